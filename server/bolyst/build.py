"""Build a release: validate, write the dumps and their description, swap the folder in.

``build(root, out)`` reads ``ontology/``, ``data/``, ``shapes/``, ``catalog/dataset.ttl`` and
``CHANGELOG.md`` under ``root`` and writes the files of :data:`bolyst.release.FILES` to ``out``:

1. everything is parsed and (unless told otherwise) validated against ``shapes/`` first;
2. the files are written into a new temporary folder next to ``out`` (same file system), each
   flushed to disk, with a progress line (size, triples);
3. the swap: the old release is renamed aside, the new folder renamed to ``out``, the old one
   deleted. If the second rename fails the old release is renamed back.

Any failure before the swap (a Turtle error, a shape violation, an exception in a writer, a full
disk) removes the temporary folder and leaves the previous release as it was. A lock file keeps
two builds from swapping at once; a build that died between the two renames is repaired by the
next one (the release set aside is put back).

Output is deterministic (see :mod:`bolyst.canonical`): two builds of the same input give the same
bytes. Dates come from ``CHANGELOG.md``, never from the clock.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
from rdflib import Graph

from bolyst import canonical
from bolyst.description import (
    RECORD_PREFIXES,
    ChangelogEntry,
    Dump,
    describe,
    read_changelog,
)
from bolyst.errors import BolystError
from bolyst.load import find_sources, load_dataset, parse_file
from bolyst.namespaces import GRAPH, PREFIXES
from bolyst.release import BY_NAME, SUMS, sums_text
from bolyst.validate import Report, load_shapes, validate_dataset

CHANGELOG = "CHANGELOG.md"
ONTOLOGY_GRAPHS = GRAPH + "ontology/"
STATIC_RECORD = Path("catalog") / "dataset.ttl"

Progress = Callable[[str], None]


class DataNotConforming(BolystError):
    """The data violates the shapes: nothing is built (exit code 1, as ``bolyst validate``)."""

    exit_code = 1

    def __init__(self, report: Report) -> None:
        self.report = report
        summary = report.text().rsplit("\n", 1)[-1]
        super().__init__(f"the data does not conform to the shapes ({summary})")


class BuildError(BolystError):
    """The release could not be written or swapped in; the previous one is untouched."""


@dataclass(frozen=True)
class Written:
    """A file written into the release."""

    name: str
    size: int
    sha256: str
    triples: int | None


@dataclass(frozen=True)
class BuildResult:
    directory: Path
    version: str
    files: tuple[Written, ...]
    seconds: float


def build(
    root: Path,
    out: Path,
    *,
    progress: Progress = lambda line: None,
    validate_first: bool = True,
) -> BuildResult:
    """Build the release of ``root`` into ``out``; see the module docstring.

    Args:
        root: the folder holding ontology/, data/, shapes/, catalog/ and CHANGELOG.md.
        out: the release folder (``dist/``); replaced as a whole, or not at all.
        progress: called with one line per file written.
        validate_first: check the data against ``shapes/`` before writing anything. Only callers
            that have just validated the same files (``bolyst serve``) turn it off.

    Raises:
        LoadError: a source file does not parse, or CHANGELOG.md has no valid release heading.
        DataNotConforming: the data violates the shapes.
        BuildError: the release could not be written or swapped in.
    """
    started = time.perf_counter()
    sources = find_sources(root)
    out = Path(os.path.abspath(out))
    _check_target(out, sources.root)
    changelog = read_changelog(sources.root / CHANGELOG)
    static = parse_file(sources.root / STATIC_RECORD, into=Graph(bind_namespaces="none"))
    graph_files = (*sources.ontology, *sources.data)
    quads, file_prefixes = canonical.parse_files(graph_files, sources.root)
    shape_quads, shape_prefixes = canonical.parse_files(sources.shapes, sources.root)
    if validate_first:
        progress("validating ontology/ + data/ against shapes/ ...")
        checked = time.perf_counter()
        report = validate_dataset(load_dataset(graph_files, sources.root), load_shapes(sources))
        if not report.conforms:
            raise DataNotConforming(report)
        progress(f"  conforms ({time.perf_counter() - checked:.1f} s)")
    progress(f"writing release {changelog[0].version} ...")
    prefixes = _prefixes(file_prefixes, shape_prefixes)
    out.parent.mkdir(parents=True, exist_ok=True)
    with _lock(out):
        _recover(out)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        try:
            written = _write_release(
                staging, quads, shape_quads, prefixes, static, changelog, progress
            )
            _fsync(staging)
            _swap(staging, out)
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(exc, OSError):
                raise BuildError(f"could not write the release to {out}: {exc}") from exc
            raise
    return BuildResult(out, changelog[0].version, written, time.perf_counter() - started)


def _write_release(
    folder: Path,
    quads: list[ox.Quad],
    shape_quads: list[ox.Quad],
    prefixes: dict[str, str],
    static: Graph,
    changelog: tuple[ChangelogEntry, ...],
    progress: Progress,
) -> tuple[Written, ...]:
    writer = _Writer(folder, progress)
    all_quads = canonical.canonicalize(quads)
    triples = canonical.triples_of(all_quads)
    graph = canonical.to_graph(triples, prefixes)
    onto = canonical.triples_of(q for q in all_quads if _graph_name(q).startswith(ONTOLOGY_GRAPHS))
    shapes = canonical.triples_of(canonical.canonicalize(shape_quads))
    context = {k: v for k, v in prefixes.items() if k}

    writer.write("bolyst.ttl", graph.serialize(format="longturtle", encoding="utf-8"), len(triples))
    writer.write("bolyst.nt.gz", canonical.gzip_bytes(canonical.ntriples(triples)), len(triples))
    writer.write(
        "bolyst.trig.gz", canonical.gzip_bytes(canonical.trig(all_quads, prefixes)), len(all_quads)
    )
    writer.write("bolyst.nq.gz", canonical.gzip_bytes(canonical.nquads(all_quads)), len(all_quads))
    writer.write("bolyst.jsonld", canonical.jsonld(triples, context), len(triples))
    writer.write(
        "context.jsonld", canonical.json_bytes({"@context": dict(sorted(context.items()))}), None
    )
    writer.write("ontology.ttl", canonical.turtle(onto, prefixes), len(onto))
    writer.write("ontology.rdf", canonical.rdfxml(onto, prefixes), len(onto))
    writer.write("ontology.jsonld", canonical.jsonld(onto, context), len(onto))
    writer.write("shapes.ttl", canonical.turtle(shapes, prefixes), len(shapes))

    dumps = [Dump(BY_NAME[w.name], w.size, w.sha256, writer.sha1[w.name]) for w in writer.written]
    record = describe(static, graph, changelog, dumps, prefixes)
    record_prefixes = {
        **prefixes,
        **{k: str(v) for k, v in static.namespaces()},
        **RECORD_PREFIXES,
    }
    record_triples = canonical.triples_of(
        canonical.canonicalize(
            ox.Quad(t.subject, t.predicate, t.object) for t in canonical.graph_triples(record)
        )
    )
    record_context = {k: v for k, v in record_prefixes.items() if k}
    writer.write(
        "dataset.ttl", canonical.turtle(record_triples, record_prefixes), len(record_triples)
    )
    writer.write(
        "dataset.jsonld", canonical.jsonld(record_triples, record_context), len(record_triples)
    )
    writer.write(
        "dataset.rdf", canonical.rdfxml(record_triples, record_prefixes), len(record_triples)
    )
    writer.write("dataset.nt", canonical.ntriples(record_triples), len(record_triples))
    checksums = {w.name: w.sha256 for w in writer.written}
    writer.write(SUMS, sums_text(checksums).encode("utf-8"), None)
    return tuple(writer.written)


class _Writer:
    """Write files into the staging folder, each flushed to disk, with a progress line."""

    def __init__(self, folder: Path, progress: Progress) -> None:
        self.folder = folder
        self.progress = progress
        self.written: list[Written] = []
        self.sha1: dict[str, str] = {}

    def write(self, name: str, data: bytes, triples: int | None) -> None:
        assert name in BY_NAME, name
        with (self.folder / name).open("xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        written = Written(name, len(data), hashlib.sha256(data).hexdigest(), triples)
        self.written.append(written)
        self.sha1[name] = hashlib.sha1(data).hexdigest()  # for DCAT-AP-NO 2 (see description)
        count = f"{triples:>7,} triples" if triples is not None else ""
        self.progress(f"  {name:<16} {len(data):>11,} bytes {count}".rstrip())


def _graph_name(quad: ox.Quad) -> str:
    name = quad.graph_name
    return name.value if isinstance(name, ox.NamedNode) else ""


def _prefixes(*found: dict[str, str]) -> dict[str, str]:
    """Our prefixes first, then those declared in the files; one prefix per namespace."""
    merged: dict[str, str] = {}
    for mapping in (PREFIXES, *found):
        for prefix, namespace in sorted(mapping.items()):
            if prefix and prefix not in merged and namespace not in merged.values():
                merged[prefix] = namespace
    return dict(sorted(merged.items()))


def _check_target(out: Path, root: Path) -> None:
    """Refuse to replace anything but a release (or an empty folder) outside the sources."""
    for source in ("ontology", "data", "shapes", "catalog"):
        if out == root or root.is_relative_to(out) or out.is_relative_to(root / source):
            raise BuildError(f"refusing to build into {out}: it holds or is the sources")
    if out.exists():
        if not out.is_dir() or out.is_symlink():
            raise BuildError(f"refusing to replace {out}: not a folder")
        if any(out.iterdir()) and not (out / SUMS).is_file():
            raise BuildError(f"refusing to replace {out}: not empty and not a release (no {SUMS})")


@contextmanager
def _lock(out: Path) -> Iterator[None]:
    with (out.parent / f".{out.name}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _aside(out: Path) -> Path:
    return out.parent / f".{out.name}.old"


def _recover(out: Path) -> None:
    """Repair what a build that died midway left: put a release set aside back, drop leftovers."""
    aside = _aside(out)
    if aside.is_dir():
        if out.exists():
            shutil.rmtree(aside)
        else:
            os.rename(aside, out)
    for stale in out.parent.glob(f".{out.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _swap(staging: Path, out: Path) -> None:
    aside = _aside(out) if out.exists() else None
    if aside is not None:
        os.rename(out, aside)
    try:
        os.rename(staging, out)
    except BaseException:
        if aside is not None:
            os.rename(aside, out)
        raise
    _fsync(out.parent)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def _fsync(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
