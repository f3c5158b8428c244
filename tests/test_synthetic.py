"""The synthetic data generator (``bolyst synth``): valid, deterministic, of the asked size."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from bolyst.cli import main
from bolyst.load import find_sources
from bolyst.synthetic import generate, iter_files, read_vocabulary
from bolyst.validate import validate_sources

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic") / "root"
    generate(root, 1500, seed=3, source_root=REPO)
    return root


def test_a_sample_conforms_to_the_shapes(small: Path) -> None:
    """pySHACL takes about a minute for 10k triples (`bolyst validate --root` on `bolyst synth
    --triples 10000` conforms too); every programme is made by the same code, so two suffice."""
    report = validate_sources(find_sources(small))
    assert report.conforms, report.text()
    assert report.count("Warning") == 0, report.text()


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    one = generate(tmp_path / "a", 5000, seed=7, source_root=REPO)
    two = generate(tmp_path / "b", 5000, seed=7, source_root=REPO)
    other = generate(tmp_path / "c", 5000, seed=8, source_root=REPO)
    read = [[p.read_bytes() for p in iter_files(r.root)] for r in (one, two, other)]
    assert read[0] == read[1] and read[0] != read[2]


def test_size_and_one_triple_per_line(tmp_path: Path) -> None:
    result = generate(tmp_path / "root", 20_000, seed=1, source_root=REPO)
    assert 20_000 <= result.triples < 22_000
    store = ox.Store()
    for path in result.files:
        store.load(path=str(path), format=ox.RdfFormat.TURTLE, to_graph=ox.NamedNode(path.as_uri()))
    assert len(store) == result.triples  # no duplicates, nothing lost
    for folder in ("ontology", "shapes", "queries"):
        assert (result.root / folder).is_dir()
    kinds = """SELECT (COUNT(DISTINCT ?p) AS ?n)
        WHERE { GRAPH ?g { ?o <http://www.w3.org/ns/sosa/observedProperty> ?p } }"""
    solutions = store.query(kinds)
    assert isinstance(solutions, ox.QuerySolutions)
    used = int(next(iter(solutions))["n"].value)
    assert used == len(read_vocabulary(REPO / "ontology").properties)  # every property observed


def test_cli(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["synth", "--triples", "3000", "--out", str(tmp_path / "x")])
    assert result.exit_code == 0, result.output
    assert "programmes" in result.output and (tmp_path / "x" / "data").is_dir()
