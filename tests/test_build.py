"""``bolyst build``: dumps that parse back to the source, determinism, atomicity, the record.

The release under test is built once from a copy of the repository (``built_release`` in
conftest.py). Isomorphism is checked two ways: every dump, read by both rdflib and pyoxigraph, has
the same RDFC-1.0 canonical form as the source read by the same parser (canonical forms are equal
exactly when the datasets are isomorphic); and the quad dumps and the smaller files are also
compared with ``rdflib.compare.isomorphic``, graph by graph. (rdflib's check takes about 10 s on
the whole union graph, so the union dumps rely on the canonical form.)
"""

from __future__ import annotations

import errno
import functools
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import CliRunner
from rdflib import RDF, XSD, Dataset, Graph, Literal, URIRef
from rdflib.compare import isomorphic

from bolyst import build as build_module
from bolyst import canonical
from bolyst.build import BuildError, build
from bolyst.cli import main
from bolyst.description import (
    DATASET,
    DCAT,
    SCHEMA,
    SPDX,
    VOID,
    ChangelogEntry,
    describe,
    read_changelog,
    version_iri,
)
from bolyst.errors import LoadError
from bolyst.load import find_sources, load_dataset, union
from bolyst.release import FILES, SUMS, parse_sums, read_release
from bolyst.validate import validate

REPO = Path(__file__).resolve().parents[1]
EXTERNAL = REPO / "shapes" / "external"

# name -> (rdflib format, pyoxigraph format, holds quads)
SYNTAX = {
    ".ttl": ("turtle", ox.RdfFormat.TURTLE, False),
    ".nt": ("nt", ox.RdfFormat.N_TRIPLES, False),
    ".jsonld": ("json-ld", ox.RdfFormat.JSON_LD, False),
    ".rdf": ("xml", ox.RdfFormat.RDF_XML, False),
    ".trig": ("trig", ox.RdfFormat.TRIG, True),
    ".nq": ("nquads", ox.RdfFormat.N_QUADS, True),
}
# rdflib 7.6's own parsers use its deprecated API: Dataset.parse (TriG, N-Quads) calls
# Dataset.default_context, and the TriG and JSON-LD parsers build a ConjunctiveGraph.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Dataset.default_context is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning"),
]
GRAPH_DUMPS = ["bolyst.ttl", "bolyst.nt.gz", "bolyst.trig.gz", "bolyst.nq.gz", "bolyst.jsonld"]
PART_DUMPS = ["ontology.ttl", "ontology.rdf", "ontology.jsonld", "shapes.ttl"]
RECORD_DUMPS = ["dataset.ttl", "dataset.jsonld", "dataset.rdf", "dataset.nt"]


def read(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def syntax(name: str) -> tuple[str, ox.RdfFormat, bool]:
    return SYNTAX[Path(name.removesuffix(".gz")).suffix]


def canon(quads: list[ox.Quad]) -> list[str]:
    """The RDFC-1.0 canonical N-Quads lines: equal exactly when the datasets are isomorphic."""
    return [str(q) for q in canonical.canonicalize(quads)]


def rdflib_quads(graphs: list[Graph], named: bool) -> list[ox.Quad]:
    quads = []
    for graph in graphs:
        name = ox.NamedNode(str(graph.identifier)) if named else ox.DefaultGraph()
        for s, p, o in graph:
            terms = (canonical.from_rdflib(s), canonical.from_rdflib(p), canonical.from_rdflib(o))
            quads.append(ox.Quad(*terms, name))  # type: ignore[arg-type]
    return quads


@functools.cache
def rdflib_source(root: Path, part: str) -> Dataset:
    """The source files of ``part`` read by rdflib, one named graph per file (read once)."""
    return load_dataset(source_files(root, part), root)


def source_files(root: Path, part: str) -> tuple[Path, ...]:
    sources = find_sources(root)
    return {
        "graph": (*sources.ontology, *sources.data),
        "ontology": sources.ontology,
        "shapes": sources.shapes,
    }[part]


def part_of(name: str) -> str:
    return "graph" if name.startswith("bolyst.") else name.split(".")[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.glob(f".{out.name}.*") if not p.name.endswith("lock"))


# --- the files --------------------------------------------------------------------------------


def test_release_has_every_file(built_release: Path) -> None:
    assert sorted(p.name for p in built_release.iterdir()) == sorted(f.name for f in FILES)
    release = read_release(built_release)
    assert release is not None and len(release.files) == len(FILES)


def test_progress_line_per_file(tmp_path: Path) -> None:
    lines: list[str] = []
    result = build(small_root(tmp_path, VALID), tmp_path / "dist", progress=lines.append)
    for written in result.files:
        line = next(line for line in lines if line.split()[:1] == [written.name])
        assert f"{written.size:,} bytes" in line
        if written.triples is not None:
            assert f"{written.triples:,} triples" in line
    assert {w.name for w in result.files} == {f.name for f in FILES}
    assert result.version == read_changelog(REPO / "CHANGELOG.md")[0].version


@pytest.mark.parametrize("name", GRAPH_DUMPS + PART_DUMPS)
def test_dump_parses_back_with_pyoxigraph(
    name: str, built_release: Path, release_root: Path
) -> None:
    _, fmt, has_quads = syntax(name)
    parsed = list(ox.parse(read(built_release / name), format=fmt))
    expected, _ = canonical.parse_files(source_files(release_root, part_of(name)), release_root)
    if not has_quads:
        expected = [ox.Quad(q.subject, q.predicate, q.object) for q in expected]
    assert len(canon(parsed)) == len(canon(expected))
    assert canon(parsed) == canon(expected)


@pytest.mark.parametrize("name", GRAPH_DUMPS + PART_DUMPS)
def test_dump_parses_back_with_rdflib(name: str, built_release: Path, release_root: Path) -> None:
    fmt, _, has_quads = syntax(name)
    source = rdflib_source(release_root, part_of(name))
    if has_quads:
        parsed = Dataset()
        parsed.parse(data=read(built_release / name), format=fmt)
        got = rdflib_quads([g for g in parsed.graphs() if len(g)], named=True)
        expected = rdflib_quads([g for g in source.graphs() if len(g)], named=True)
    else:
        graph = Graph().parse(data=read(built_release / name), format=fmt)
        got = rdflib_quads([graph], named=False)
        expected = rdflib_quads([union(source)], named=False)
    assert canon(got) == canon(expected)


def test_quad_dump_isomorphic_graph_by_graph(built_release: Path, release_root: Path) -> None:
    # rdflib's isomorphism check, graph by graph; the TriG dump holds the same quads (checked above
    # through the canonical form with both parsers), so N-Quads alone is compared here.
    name = "bolyst.nq.gz"
    fmt, _, _ = syntax(name)
    parsed = Dataset()
    parsed.parse(data=read(built_release / name), format=fmt)
    source = rdflib_source(release_root, "graph")
    names = {g.identifier for g in source.graphs() if len(g)}
    assert {g.identifier for g in parsed.graphs() if len(g)} == names
    for identifier in sorted(names):
        assert isomorphic(parsed.graph(identifier), source.graph(identifier)), identifier


@pytest.mark.parametrize("name", ["ontology.ttl", "ontology.rdf", "ontology.jsonld"])
def test_ontology_dumps_isomorphic(name: str, built_release: Path, release_root: Path) -> None:
    fmt, _, _ = syntax(name)
    source = union(rdflib_source(release_root, "ontology"))
    assert isomorphic(Graph().parse(data=read(built_release / name), format=fmt), source)


@pytest.mark.parametrize("name", RECORD_DUMPS)
def test_record_syntaxes_agree(name: str, built_release: Path) -> None:
    fmt, ox_fmt, _ = syntax(name)
    reference = Graph().parse(built_release / "dataset.nt", format="nt")
    assert isomorphic(Graph().parse(data=read(built_release / name), format=fmt), reference)
    from_ox = list(ox.parse(read(built_release / name), format=ox_fmt))
    reference_ox = list(ox.parse(read(built_release / "dataset.nt"), format=ox.RdfFormat.N_TRIPLES))
    assert canon(from_ox) == canon(reference_ox)


def test_jsonld_context_is_published_and_inline(built_release: Path) -> None:
    import json

    context = json.loads((built_release / "context.jsonld").read_text())["@context"]
    document = json.loads((built_release / "bolyst.jsonld").read_text())
    assert document["@context"] == context
    assert context["bolyst"] == "https://w3id.org/bolyst/ontology#"
    assert "prog:kom-trainee" in {node.get("@id") for node in document["@graph"]}


def test_checksums_verify(built_release: Path) -> None:
    sums = parse_sums((built_release / SUMS).read_text())
    assert set(sums) == {f.name for f in FILES} - {SUMS}
    for name, digest in sums.items():
        assert hashlib.sha256((built_release / name).read_bytes()).hexdigest() == digest, name
    # The format `sha256sum -c` reads.
    if shutil.which("sha256sum"):
        check = subprocess.run(
            ["sha256sum", "--check", "--strict", SUMS], cwd=built_release, capture_output=True
        )
        assert check.returncode == 0, check.stdout + check.stderr


def test_record_states_each_dump_with_size_and_checksums(built_release: Path) -> None:
    record = Graph().parse(built_release / "dataset.ttl")
    distributions = set(record.objects(DATASET, DCAT.distribution))
    assert len(distributions) == len(GRAPH_DUMPS)
    for dist in distributions:
        url = str(record.value(dist, DCAT.downloadURL))
        data = (built_release / url.rsplit("/", 1)[-1]).read_bytes()
        assert record.value(dist, DCAT.byteSize) == Literal(f"{len(data)}.0", datatype=XSD.decimal)
        assert str(record.value(dist, SCHEMA.sha256)) == hashlib.sha256(data).hexdigest()
        checksum = record.value(dist, SPDX.checksum)
        assert record.value(checksum, SPDX.algorithm) == SPDX.checksumAlgorithm_sha1
        assert str(record.value(checksum, SPDX.checksumValue)) == hashlib.sha1(data).hexdigest()
        assert (DATASET, VOID.dataDump, URIRef(url)) in record


def test_gzip_headers_are_fixed(built_release: Path) -> None:
    for name in ("bolyst.nt.gz", "bolyst.trig.gz", "bolyst.nq.gz"):
        header = (built_release / name).read_bytes()[:10]
        assert header[:3] == b"\x1f\x8b\x08"
        assert header[3] & 0x08 == 0, "no file name (FNAME) in the header"
        assert header[4:8] == b"\0\0\0\0", "mtime is 0"


# --- determinism ------------------------------------------------------------------------------


def test_two_builds_are_byte_identical(
    built_release: Path, release_root: Path, tmp_path: Path
) -> None:
    # A separate process with another hash seed: set and dict order may not leak into the output.
    out = tmp_path / "again"
    code = (
        "import sys; from pathlib import Path; from bolyst.build import build; "
        "build(Path(sys.argv[1]), Path(sys.argv[2]), validate_first=False)"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", code, str(release_root), str(out)], check=True, env=env)
    assert snapshot(out) == snapshot(built_release)


# --- the VoID and DCAT description -------------------------------------------------------------


def test_void_counts_match_the_graph(built_release: Path, release_root: Path) -> None:
    record = Graph().parse(built_release / "dataset.ttl")
    graph = union(rdflib_source(release_root, "graph"))

    def count(prop: URIRef) -> int:
        value = record.value(DATASET, prop)
        assert isinstance(value, Literal)
        return int(value)

    assert count(VOID.triples) == len(graph)
    assert count(VOID.distinctSubjects) == len(set(graph.subjects()))
    assert count(VOID.distinctObjects) == len(set(graph.objects()))
    assert count(VOID.properties) == len(set(graph.predicates()))
    assert count(VOID.classes) == len(set(graph.objects(None, RDF.type)))
    partitions = {
        record.value(p, VOID.property): int(record.value(p, VOID.triples))  # type: ignore[arg-type]
        for p in record.objects(DATASET, VOID.propertyPartition)
    }
    assert partitions[RDF.type] == len(list(graph.triples((None, RDF.type, None))))
    assert sum(partitions.values()) == len(graph)
    assert str(record.value(DATASET, VOID.uriSpace)) == "https://w3id.org/bolyst/id/"
    assert record.value(DATASET, VOID.sparqlEndpoint) == URIRef("https://w3id.org/bolyst/sparql")
    examples = set(record.objects(DATASET, VOID.exampleResource))
    assert URIRef("https://w3id.org/bolyst/id/programme/kom-trainee") in examples
    assert URIRef("http://www.w3.org/ns/org#") in set(record.objects(DATASET, VOID.vocabulary))
    linksets = set(graph.subjects(RDF.type, VOID.Linkset))
    assert set(record.objects(DATASET, VOID.subset)) == linksets


def test_record_conforms_to_dcat_ap_no(built_release: Path) -> None:
    record = Graph().parse(built_release / "dataset.ttl")
    record.parse(EXTERNAL / "eu-nal-concepts.ttl")
    shapes = Graph().parse(EXTERNAL / "dcat-ap-no" / "DCAT-AP-NO-shacl_shapes_2.00.ttl")
    report = validate(record, shapes)
    assert report.conforms, report.text()
    # The one known warning: Geonorge's units in dct:spatial, which DCAT-AP-NO recommends "in
    # addition" to the EU country list but its 2.00 shapes do not know (shapes/external/README.md).
    warned = {r.value for r in report.results if r.severity == "Warning"}
    geonorge = {
        f"<{o}>"
        for o in record.objects(DATASET, URIRef("http://purl.org/dc/terms/spatial"))
        if str(o).startswith("https://data.geonorge.no/")
    }
    assert len(geonorge) == 4
    assert warned == geonorge, report.text()
    assert report.count("Warning") == len(geonorge)


def test_first_release_has_no_previous_version(built_release: Path) -> None:
    record = Graph().parse(built_release / "dataset.ttl")
    assert str(record.value(DATASET, DCAT.version)) == "0.1.0"
    assert record.value(DATASET, URIRef("http://www.w3.org/2002/07/owl#versionIRI")) == version_iri(
        "0.1.0"
    )
    assert record.value(DATASET, DCAT.previousVersion) is None


def test_later_release_links_to_the_previous_one() -> None:
    static = Graph().parse(REPO / "catalog" / "dataset.ttl")
    entries = (
        ChangelogEntry("0.2.0", date(2027, 1, 5), "More link sets."),
        ChangelogEntry("0.1.0", date(2026, 11, 23), "First release."),
    )
    record = describe(static, Graph(), entries, [], {})
    assert record.value(DATASET, DCAT.previousVersion) == version_iri("0.1.0")
    assert str(record.value(DATASET, DCAT.version)) == "0.2.0"
    dct = "http://purl.org/dc/terms/"
    assert str(record.value(DATASET, URIRef(dct + "issued"))) == "2026-11-23"
    assert str(record.value(DATASET, URIRef(dct + "modified"))) == "2027-01-05"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("# Changelog\n\nNothing yet.\n", "no release heading"),
        ("## 0.1.0 — 2026-02-30\n", "not a date"),
        ("## 0.1.0 — 2026-01-01\n## 0.2.0 — 2026-02-01\n", "newest first"),
        ("## Unreleased\n", "a release heading reads"),
    ],
)
def test_changelog_errors(text: str, problem: str, tmp_path: Path) -> None:
    path = tmp_path / "CHANGELOG.md"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LoadError, match=problem):
        read_changelog(path)


def test_repository_changelog_names_a_release() -> None:
    entries = read_changelog(REPO / "CHANGELOG.md")
    assert entries[0].version.count(".") == 2 and entries[0].notes


# --- validation first, and atomicity ----------------------------------------------------------

TINY_SHAPES = """\
PREFIX sh: <http://www.w3.org/ns/shacl#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
<urn:shape> a sh:NodeShape ;
  sh:targetClass <https://w3id.org/bolyst/ontology#RegionalTraineeProgramme> ;
  sh:property [ sh:path skos:prefLabel ; sh:minCount 1 ; sh:message "a programme needs a label" ] .
"""


def small_root(tmp_path: Path, data: str) -> Path:
    """A root with a few triples and one shape, so the build's validation step runs in a moment."""
    root = tmp_path / "root"
    for folder, text in {"ontology": "", "data": data, "shapes": TINY_SHAPES}.items():
        (root / folder).mkdir(parents=True)
        (root / folder / "x.ttl").write_text(text, encoding="utf-8")
    shutil.copytree(REPO / "catalog", root / "catalog")
    shutil.copy(REPO / "CHANGELOG.md", root / "CHANGELOG.md")
    return root


PROGRAMME = (
    "<https://w3id.org/bolyst/id/programme/p> a "
    "<https://w3id.org/bolyst/ontology#RegionalTraineeProgramme>"
)
VALID = PROGRAMME + ' ; <http://www.w3.org/2004/02/skos/core#prefLabel> "P"@nb .\n'
INVALID = PROGRAMME + " .\n"


@pytest.fixture
def previous(built_release: Path, tmp_path: Path) -> Path:
    """A copy of the built release, to be (not) replaced."""
    out = tmp_path / "dist"
    shutil.copytree(built_release, out)
    return out


def test_cli_build_validates_then_writes(tmp_path: Path) -> None:
    root = small_root(tmp_path, VALID)
    result = CliRunner().invoke(main, ["build", "--root", str(root), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "conforms" in result.output
    assert "built release 0.1.0" in result.output
    assert (tmp_path / "o" / SUMS).is_file()


def test_cli_build_refuses_invalid_data_and_keeps_the_release(
    tmp_path: Path, previous: Path
) -> None:
    before = snapshot(previous)
    root = small_root(tmp_path, INVALID)
    result = CliRunner().invoke(main, ["build", "--root", str(root), "--out", str(previous)])
    assert result.exit_code == 1, result.output
    assert "a programme needs a label" in result.output
    assert snapshot(previous) == before
    assert leftovers(previous) == []


def test_broken_turtle_leaves_the_release(tmp_path: Path, previous: Path) -> None:
    before = snapshot(previous)
    root = small_root(tmp_path, VALID)
    (root / "data" / "broken.ttl").write_text("<urn:a> <urn:b> .\n", encoding="utf-8")
    with pytest.raises(LoadError, match="broken.ttl, line 1"):
        build(root, previous)
    assert snapshot(previous) == before
    assert leftovers(previous) == []


def fail_on(name: str) -> Callable[..., None]:
    original = build_module._Writer.write

    def write(self: build_module._Writer, filename: str, data: bytes, triples: int | None) -> None:
        if filename == name:
            raise OSError(errno.ENOSPC, "No space left on device")
        original(self, filename, data, triples)

    return write


def test_full_disk_midway_leaves_the_release(
    tmp_path: Path, previous: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(previous)
    monkeypatch.setattr(build_module._Writer, "write", fail_on("ontology.rdf"))
    with pytest.raises(BuildError, match="No space left on device"):
        build(small_root(tmp_path, VALID), previous)
    assert snapshot(previous) == before
    assert leftovers(previous) == []


def test_failed_swap_puts_the_old_release_back(
    tmp_path: Path, previous: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(previous)
    real_rename = os.rename

    def rename(src: Path, dst: Path) -> None:
        if Path(src).name.startswith(".dist.tmp-"):
            raise OSError(errno.EIO, "I/O error")
        real_rename(src, dst)

    monkeypatch.setattr(build_module.os, "rename", rename)
    with pytest.raises(BuildError, match="I/O error"):
        build(small_root(tmp_path, VALID), previous)
    assert snapshot(previous) == before
    assert leftovers(previous) == []


def test_a_release_set_aside_by_a_crash_is_put_back(
    tmp_path: Path, previous: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A build that died between its two renames left the old release aside and no dist/: the
    # next build puts it back first, so even when that build fails too, dist/ is served again.
    before = snapshot(previous)
    os.rename(previous, previous.parent / ".dist.old")
    monkeypatch.setattr(build_module._Writer, "write", fail_on("bolyst.ttl"))
    with pytest.raises(BuildError):
        build(small_root(tmp_path, VALID), previous)
    assert snapshot(previous) == before
    assert leftovers(previous) == []


def test_refuses_to_replace_a_folder_that_is_not_a_release(tmp_path: Path) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(BuildError, match="not a release"):
        build(small_root(tmp_path, VALID), out)
    assert (out / "notes.txt").read_text() == "keep me"


def test_refuses_to_build_into_the_sources(tmp_path: Path) -> None:
    root = small_root(tmp_path, VALID)
    with pytest.raises(BuildError, match="holds or is the sources"):
        build(root, root / "data")
