"""Find the project's Turtle files and parse them, one named graph per file.

Errors name the file and the line, so a broken edit is found at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rdflib import Dataset, Graph, URIRef
from rdflib.plugins.parsers.notation3 import BadSyntax

from bolyst.errors import LoadError
from bolyst.namespaces import graph_iri

FORMATS = {".ttl": "turtle", ".nt": "nt", ".trig": "trig", ".nq": "nquads"}


@dataclass(frozen=True)
class Sources:
    """The files a repository root holds, by role."""

    root: Path
    ontology: tuple[Path, ...]
    data: tuple[Path, ...]
    shapes: tuple[Path, ...]


def find_sources(root: Path) -> Sources:
    """List ``ontology/*.ttl``, ``data/**/*.ttl`` and ``shapes/*.ttl`` under ``root``, sorted."""
    root = root.resolve()
    if not (root / "ontology").is_dir() or not (root / "data").is_dir():
        raise LoadError(str(root), None, "not a bolyst root: it has no ontology/ and data/ folders")
    return Sources(
        root=root,
        ontology=tuple(sorted((root / "ontology").glob("*.ttl"))),
        data=tuple(sorted((root / "data").rglob("*.ttl"))),
        # shapes/external/ holds third-party shapes (e.g. DCAT-AP-NO) that are run separately.
        shapes=tuple(sorted((root / "shapes").glob("*.ttl"))),
    )


def display_name(path: Path, root: Path | None = None) -> str:
    """Say where a file is: relative to ``root`` (or the working directory) when inside it."""
    path = path.resolve()
    for base in (root, Path.cwd()):
        if base is not None and path.is_relative_to(base.resolve()):
            return path.relative_to(base.resolve()).as_posix()
    return str(path)


def parse_file(path: Path, into: Graph | None = None, root: Path | None = None) -> Graph:
    """Parse one RDF file into ``into`` (a new graph by default).

    Raises:
        LoadError: the file is missing, not UTF-8, of an unknown kind, or not valid RDF; the
            message names the file and, where the parser knows it, the line.
    """
    name = display_name(path, root)
    fmt = FORMATS.get(path.suffix)
    if fmt is None:
        raise LoadError(name, None, f"unknown file kind {path.suffix!r}; expected .ttl or .nt")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LoadError(name, None, exc.strerror or str(exc)) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LoadError(name, line, "not valid UTF-8") from exc
    graph = Graph() if into is None else into
    try:
        graph.parse(data=text, format=fmt, publicID=path.resolve().as_uri())
    except BadSyntax as exc:
        # rdflib counts lines from 0.
        raise LoadError(name, exc.lines + 1, exc._why) from exc  # noqa: SLF001
    except Exception as exc:  # rdflib's N-Triples and other parsers raise assorted types
        raise LoadError(name, _line_of(exc), str(exc)) from exc
    return graph


def _line_of(exc: Exception) -> int | None:
    line = getattr(exc, "lineno", None) or getattr(exc, "line", None)
    return line if isinstance(line, int) else None


def load_dataset(paths: Iterable[Path], root: Path) -> Dataset:
    """Parse every file into its own named graph (see :func:`bolyst.namespaces.graph_iri`)."""
    dataset = Dataset()
    for path in paths:
        graph = dataset.graph(URIRef(graph_iri(display_name(path, root))))
        parse_file(path, into=graph, root=root)
    return dataset


def union(dataset: Dataset) -> Graph:
    """Copy the named graphs of ``dataset`` into one plain graph."""
    merged = Graph()
    for quad in dataset.quads((None, None, None, None)):
        merged.add(quad[:3])
    for prefix, ns in dataset.namespaces():
        merged.bind(prefix, ns, override=False)
    return merged


def dataset_version(sources: Sources) -> str:
    """Fingerprint the served files (names and bytes): it changes whenever the data does.

    The SPARQL endpoint's ETags are built on it, so every worker process agrees on them.
    """
    digest = hashlib.sha256()
    for path in (*sources.ontology, *sources.data, *sources.shapes):
        digest.update(display_name(path, sources.root).encode("utf-8") + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
