"""Stored queries: ``queries/*.rq`` files with a header of ``#+ key: value`` comment lines.

Header keys: ``title``, ``description`` (may repeat; lines are joined) and ``param``, one per
parameter: ``#+ param: ?name type default help...`` where type is ``iri``, ``string``,
``integer`` or ``year`` and default is a value or ``-`` for none. Parameters are bound by the
engine as substitutions (never pasted into the query text).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bolyst.errors import InputError

PARAM_TYPES = ("iri", "string", "integer", "year")
_HEADER = re.compile(r"^#\+\s*(\w+)\s*:\s*(.*?)\s*$")
_IRI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s<>\"{}|\\^`]*$")


class ParameterError(InputError):
    """A parameter value does not fit its declared type."""


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    default: str | None
    help: str

    def coerce(self, raw: str) -> tuple[str, str]:
        """Check ``raw`` against the type; return (kind, lexical value) for binding.

        >>> Parameter("year", "year", None, "").coerce("2011")
        ('year', '2011')
        >>> Parameter("year", "year", None, "").coerce("20x1")
        Traceback (most recent call last):
        bolyst.queries.ParameterError: parameter ?year: '20x1' is not a year (four digits)
        """
        checks: dict[str, tuple[Callable[[str], object], str]] = {
            "iri": (_IRI.match, "an absolute IRI"),
            "integer": (re.compile(r"^-?[0-9]{1,18}$").match, "an integer"),
            "year": (re.compile(r"^[0-9]{4}$").match, "a year (four digits)"),
            "string": (lambda v: len(v) <= 1000, "a string of at most 1000 characters"),
        }
        check, what = checks[self.type]
        if not check(raw):
            raise ParameterError(f"parameter ?{self.name}: {raw!r} is not {what}")
        return self.type, raw


@dataclass(frozen=True)
class StoredQuery:
    name: str
    title: str
    description: str
    parameters: tuple[Parameter, ...]
    text: str
    path: Path


def parse_stored_query(path: Path) -> StoredQuery:
    """Read one ``.rq`` file and its header.

    Raises:
        InputError: the header lacks a title or declares a malformed parameter.
    """
    text = path.read_text(encoding="utf-8")
    fields: dict[str, list[str]] = {}
    for line in text.splitlines():
        match = _HEADER.match(line)
        if match:
            fields.setdefault(match.group(1).lower(), []).append(match.group(2))
    if not fields.get("title"):
        raise InputError(f"{path.name}: no '#+ title:' header line")
    params = []
    for spec in fields.get("param", []):
        parts = spec.split(None, 3)
        if len(parts) < 3 or not parts[0].startswith("?") or parts[1] not in PARAM_TYPES:
            raise InputError(f"{path.name}: malformed parameter line {spec!r}")
        default = None if parts[2] == "-" else parts[2]
        params.append(
            Parameter(parts[0][1:], parts[1], default, parts[3] if len(parts) > 3 else "")
        )
    return StoredQuery(
        name=path.stem,
        title=fields["title"][0],
        description=" ".join(fields.get("description", [])),
        parameters=tuple(params),
        text=text,
        path=path,
    )


def list_stored_queries(folder: Path) -> list[StoredQuery]:
    """Every ``.rq`` file in ``folder``, sorted by name."""
    return [parse_stored_query(p) for p in sorted(folder.glob("*.rq"))]


def bind(query: StoredQuery, given: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Choose a typed value for every parameter: the given one, else its default.

    Unknown names are refused, so a typo does not silently fall back to the default.
    """
    known = {p.name: p for p in query.parameters}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ParameterError(f"unknown parameter(s): {', '.join(unknown)}")
    bound = {}
    for name, param in known.items():
        raw = given.get(name, param.default)
        if raw is not None and raw != "":
            bound[name] = param.coerce(raw)
    return bound
