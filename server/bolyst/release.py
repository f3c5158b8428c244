"""The files of a release (what ``bolyst build`` writes) and how to read one back.

A release is a folder (``dist/`` by default) whose manifest is ``SHA256SUMS``: the files it names
are the release, nothing else is. The web views serve only names found there, which is what
keeps every other path (``..``, encoded slashes, symlinks, dot files) out of reach.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

SUMS = "SHA256SUMS"
RECORD = "dataset.ttl"

IANA = "https://www.iana.org/assignments/media-types/"
EU_FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"


@dataclass(frozen=True)
class FileSpec:
    """One file of a release.

    ``media_type`` is the type of the RDF inside (also after gunzipping); ``served_as`` is what
    HTTP says. ``file_type`` is the EU file-type NAL code, ``None`` for files that are not RDF.
    ``part`` says what the file holds: ``graph`` (ontology + data), ``ontology``, ``shapes``,
    ``record`` (the VoID + DCAT description) or ``meta`` (context, checksums).
    """

    name: str
    media_type: str
    file_type: str | None
    part: str
    label_en: str
    label_nb: str

    @property
    def gzipped(self) -> bool:
        return self.name.endswith(".gz")

    @property
    def served_as(self) -> str:
        """The Content-Type: ``.gz`` files are ``application/gzip`` downloads, never
        ``Content-Encoding: gzip`` (a client would unpack them and store a file whose bytes
        no longer match the published checksum)."""
        if self.gzipped:
            return "application/gzip"
        text = self.media_type.startswith("text/") or self.media_type in (
            "application/n-triples",
            "application/n-quads",
            "application/trig",
        )
        return f"{self.media_type}; charset=utf-8" if text else self.media_type

    @property
    def format_iri(self) -> str | None:
        return EU_FILE_TYPE + self.file_type if self.file_type else None

    @property
    def media_type_iri(self) -> str:
        return IANA + self.media_type


FILES: tuple[FileSpec, ...] = (
    FileSpec(
        "bolyst.ttl",
        "text/turtle",
        "RDF_TURTLE",
        "graph",
        "The whole graph (ontology and data) as Turtle",
        "Hele grafen (ontologi og data) som Turtle",
    ),
    FileSpec(
        "bolyst.nt.gz",
        "application/n-triples",
        "RDF_N_TRIPLES",
        "graph",
        "The whole graph as N-Triples, gzipped",
        "Hele grafen som N-Triples, gzip-komprimert",
    ),
    FileSpec(
        "bolyst.trig.gz",
        "application/trig",
        "RDF_TRIG",
        "graph",
        "The whole graph as TriG, one named graph per source file, gzipped",
        "Hele grafen som TriG, én navngitt graf per kildefil, gzip-komprimert",
    ),
    FileSpec(
        "bolyst.nq.gz",
        "application/n-quads",
        "RDF_N_QUADS",
        "graph",
        "The whole graph as N-Quads, one named graph per source file, gzipped",
        "Hele grafen som N-Quads, én navngitt graf per kildefil, gzip-komprimert",
    ),
    FileSpec(
        "bolyst.jsonld",
        "application/ld+json",
        "JSON_LD",
        "graph",
        "The whole graph as JSON-LD (context inline, also published as context.jsonld)",
        "Hele grafen som JSON-LD (konteksten inline, også publisert som context.jsonld)",
    ),
    FileSpec(
        "context.jsonld",
        "application/ld+json",
        None,
        "meta",
        "The JSON-LD context: our prefixes",
        "JSON-LD-konteksten: prefiksene våre",
    ),
    FileSpec(
        "ontology.ttl",
        "text/turtle",
        "RDF_TURTLE",
        "ontology",
        "The ontology and its concept schemes as Turtle",
        "Ontologien og begrepssystemene som Turtle",
    ),
    FileSpec(
        "ontology.rdf",
        "application/rdf+xml",
        "RDF_XML",
        "ontology",
        "The ontology and its concept schemes as RDF/XML",
        "Ontologien og begrepssystemene som RDF/XML",
    ),
    FileSpec(
        "ontology.jsonld",
        "application/ld+json",
        "JSON_LD",
        "ontology",
        "The ontology and its concept schemes as JSON-LD",
        "Ontologien og begrepssystemene som JSON-LD",
    ),
    FileSpec(
        "shapes.ttl",
        "text/turtle",
        "RDF_TURTLE",
        "shapes",
        "The SHACL shapes the data conforms to, as Turtle",
        "SHACL-formene dataene er i samsvar med, som Turtle",
    ),
    FileSpec(
        "dataset.ttl",
        "text/turtle",
        "RDF_TURTLE",
        "record",
        "The description of the dataset (DCAT-AP-NO and VoID) as Turtle",
        "Beskrivelsen av datasettet (DCAT-AP-NO og VoID) som Turtle",
    ),
    FileSpec(
        "dataset.jsonld",
        "application/ld+json",
        "JSON_LD",
        "record",
        "The description of the dataset as JSON-LD",
        "Beskrivelsen av datasettet som JSON-LD",
    ),
    FileSpec(
        "dataset.rdf",
        "application/rdf+xml",
        "RDF_XML",
        "record",
        "The description of the dataset as RDF/XML",
        "Beskrivelsen av datasettet som RDF/XML",
    ),
    FileSpec(
        "dataset.nt",
        "application/n-triples",
        "RDF_N_TRIPLES",
        "record",
        "The description of the dataset as N-Triples",
        "Beskrivelsen av datasettet som N-Triples",
    ),
    FileSpec(
        SUMS,
        "text/plain",
        None,
        "meta",
        "SHA-256 checksums of every file (sha256sum -c SHA256SUMS)",
        "SHA-256-sjekksummer for alle filene (sha256sum -c SHA256SUMS)",
    ),
)

BY_NAME: dict[str, FileSpec] = {spec.name: spec for spec in FILES}


@dataclass(frozen=True)
class ReleaseFile:
    """A file of a built release: its spec, where it is, its size and checksum."""

    spec: FileSpec
    path: Path
    size: int
    sha256: str | None  # None for SHA256SUMS itself


@dataclass(frozen=True)
class Release:
    directory: Path
    files: tuple[ReleaseFile, ...]

    def get(self, name: str) -> ReleaseFile | None:
        """The file called exactly ``name``, or None (for any other string, ``..`` included)."""
        return next((f for f in self.files if f.spec.name == name), None)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def sums_text(checksums: dict[str, str]) -> str:
    """``SHA256SUMS`` in the format of GNU ``sha256sum`` (two spaces, sorted by name).

    >>> sums_text({"b.ttl": "00", "a.ttl": "ff"})
    'ff  a.ttl\\n00  b.ttl\\n'
    """
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(checksums.items()))


def parse_sums(text: str) -> dict[str, str]:
    """Read ``SHA256SUMS`` back: name -> hex digest.

    >>> parse_sums("ff  a.ttl\\n")
    {'a.ttl': 'ff'}
    """
    checksums: dict[str, str] = {}
    for line in text.splitlines():
        digest, sep, name = line.partition("  ")
        if sep and digest and name:
            checksums[name] = digest
    return checksums


def read_release(directory: Path) -> Release | None:
    """The release in ``directory``, or None when there is none (no ``SHA256SUMS``).

    Only regular files named in ``SHA256SUMS`` and known to :data:`FILES` count; a name that is
    a symlink, a folder or missing is left out.
    """
    sums_path = directory / SUMS
    try:
        if sums_path.is_symlink() or not sums_path.is_file():
            return None
        checksums = parse_sums(sums_path.read_text(encoding="utf-8"))
    except OSError:
        return None
    files: list[ReleaseFile] = []
    for spec in FILES:
        digest = checksums.get(spec.name)
        if spec.name != SUMS and digest is None:
            continue
        path = directory / spec.name
        if path.is_symlink() or not path.is_file():
            continue
        files.append(ReleaseFile(spec, path, path.stat().st_size, digest))
    return Release(directory, tuple(files))
