"""Loading: one named graph per file; errors name the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import URIRef

from bolyst.errors import LoadError
from bolyst.load import find_sources, load_dataset, parse_file, union
from bolyst.store.local import open_memory_store


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    write(tmp_path / "ontology" / "o.ttl", "<urn:o> a <urn:Ontology> .\n")
    write(tmp_path / "data" / "a.ttl", "<urn:a> <urn:p> 1 .\n")
    write(tmp_path / "data" / "links" / "b.ttl", "<urn:b> <urn:p> 2 .\n")
    write(tmp_path / "shapes" / "s.ttl", "<urn:s> <urn:p> 3 .\n")
    return tmp_path


def test_find_sources_by_role(root: Path) -> None:
    sources = find_sources(root)
    assert [p.name for p in sources.ontology] == ["o.ttl"]
    assert [p.relative_to(root).as_posix() for p in sources.data] == [
        "data/a.ttl",
        "data/links/b.ttl",
    ]
    assert [p.name for p in sources.shapes] == ["s.ttl"]


def test_find_sources_refuses_a_folder_without_data(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="not a bolyst root"):
        find_sources(tmp_path)


def test_each_file_gets_its_named_graph(root: Path) -> None:
    sources = find_sources(root)
    dataset = load_dataset(sources.data, root)
    names = {str(g.identifier) for g in dataset.graphs() if len(g)}
    assert names == {
        "https://w3id.org/bolyst/graph/data/a",
        "https://w3id.org/bolyst/graph/data/links/b",
    }
    assert (URIRef("urn:b"), URIRef("urn:p"), None) in union(dataset)


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ('<urn:a> <urn:p> "open .\n', 1, "newline found in string literal"),
        ("<urn:a> <urn:p> 1 .\n\n<urn:b> <urn:p> .\n", 3, ""),
        ("@prefix ex: <urn:x> .\nex:a ex:b ex:c\nex:d ex:e ex:f .\n", 3, ""),
    ],
)
def test_broken_turtle_names_file_and_line(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    path = write(tmp_path / "broken.ttl", text)
    with pytest.raises(LoadError) as caught:
        parse_file(path, root=tmp_path)
    assert caught.value.path == "broken.ttl"
    assert caught.value.line == line
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"broken.ttl, line {line}: ")


def test_non_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.ttl"
    path.write_bytes(b'<urn:a> <urn:p> "ok" .\n<urn:a> <urn:p> "bl\xe5" .\n')
    with pytest.raises(LoadError, match=r"latin1.ttl, line 2: not valid UTF-8"):
        parse_file(path, root=tmp_path)


def test_unknown_file_kind(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="unknown file kind"):
        parse_file(write(tmp_path / "x.csv", "a,b\n"), root=tmp_path)


def test_embedded_store_has_the_same_graphs(root: Path) -> None:
    sources = find_sources(root)
    store, stats = open_memory_store((*sources.ontology, *sources.data), root)
    assert stats.files == 3 and stats.triples == 3
    graphs = sorted(str(g.value) for g in store.named_graphs())
    assert graphs == [
        "https://w3id.org/bolyst/graph/data/a",
        "https://w3id.org/bolyst/graph/data/links/b",
        "https://w3id.org/bolyst/graph/ontology/o",
    ]


def test_embedded_store_names_broken_file(tmp_path: Path) -> None:
    path = write(tmp_path / "data" / "bad.ttl", "<urn:a> <urn:p> .\n")
    with pytest.raises(LoadError) as caught:
        open_memory_store([path], tmp_path)
    assert caught.value.path == "data/bad.ttl"
    assert caught.value.line == 1
