"""The store interface: load the project's files and answer SPARQL.

:class:`QueryEngine` is what the endpoint calls; the implementation is the evaluator pool of
:mod:`bolyst.store.pool`, which runs every public query in a child process that can be killed
(issues 4 and 9). This module holds only the interface, so that importing it costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Answer", "QueryEngine"]


@dataclass(frozen=True)
class Answer:
    """A complete, serialized query result.

    Attributes:
        body: the serialized result, complete (a valid document even when ``truncated``).
        media_type: the media type it is serialized in (the one asked for).
        rows: solutions or triples in the body; ``None`` for ASK.
        truncated: the row cap cut the result.
        cached: it comes from the result cache (:mod:`bolyst.store.cache`), not the evaluation.
    """

    body: bytes
    media_type: str
    rows: int | None
    truncated: bool
    cached: bool = False


class QueryEngine(Protocol):
    """Answers read-only SPARQL queries over the project's dataset."""

    def run(
        self,
        query: str,
        *,
        media_type: str,
        default_graphs: Sequence[str] = (),
        named_graphs: Sequence[str] = (),
        timeout: float | None = None,
        base_iri: str | None = None,
    ) -> Answer:
        """Check, evaluate and serialize ``query``; raise a :class:`bolyst.errors.BolystError`.

        ``base_iri`` resolves the query's relative IRIs (the endpoint's URL, say); an extension
        of the interface, optional.
        """
        ...

    def graphs(self) -> tuple[str, ...]:
        """The named graphs of the dataset."""
        ...

    def close(self) -> None:
        """Stop the engine and free what it holds."""
        ...
