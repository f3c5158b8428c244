"""The command line: subcommands, exit codes, readable reports."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bolyst.cli import main

SHAPE = """
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<urn:shape> a sh:NodeShape ; sh:targetClass <urn:Thing> ;
  sh:property [ sh:path <urn:count> ; sh:datatype xsd:integer ; sh:minCount 1 ;
                sh:message "a Thing needs an integer count" ] .
"""


def make_root(tmp_path: Path, data: str) -> Path:
    for folder, text in {"ontology": "", "data": data, "shapes": SHAPE}.items():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.ttl").write_text(text, encoding="utf-8")
    return tmp_path


def test_help_lists_subcommands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "validate"):
        assert f"  {command} " in result.output
    assert "Exit codes: 0 ok, 1" in result.output


def test_unknown_command_is_a_usage_error() -> None:
    assert CliRunner().invoke(main, ["frobnicate"]).exit_code == 2


def test_validate_ok(tmp_path: Path) -> None:
    root = make_root(tmp_path, "<urn:a> a <urn:Thing> ; <urn:count> 3 .\n")
    result = CliRunner().invoke(main, ["validate", "--root", str(root)])
    assert result.exit_code == 0, result.output
    assert "0 violation(s)" in result.output
    assert "conforms" in result.output


def test_validate_reports_focus_path_message_and_file(tmp_path: Path) -> None:
    root = make_root(tmp_path, '<urn:a> a <urn:Thing> ; <urn:count> "three" .\n')
    result = CliRunner().invoke(main, ["validate", "--root", str(root)])
    assert result.exit_code == 1, result.output
    assert "Violation: a Thing needs an integer count" in result.output
    assert "focus: urn:a" in result.output
    assert "path:  urn:count" in result.output
    assert "file:  data/x.ttl" in result.output
    assert "does NOT conform" in result.output


def test_validate_given_files(tmp_path: Path) -> None:
    root = make_root(tmp_path, "<urn:a> a <urn:Thing> ; <urn:count> 3 .\n")
    bad = tmp_path / "extra.ttl"
    bad.write_text("<urn:b> a <urn:Thing> .\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", "--root", str(root), str(bad)])
    assert result.exit_code == 1
    assert "focus: urn:b" in result.output
    assert "urn:a" not in result.output


def test_validate_broken_turtle_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    root = make_root(
        tmp_path, "<urn:a> a <urn:Thing> ;\n  <urn:count> 3\n<urn:b> a <urn:Thing> .\n"
    )
    result = CliRunner().invoke(main, ["validate", "--root", str(root)])
    assert result.exit_code == 2
    assert "error: data/x.ttl, line 3:" in result.output


def test_validate_missing_file_exits_2(tmp_path: Path) -> None:
    root = make_root(tmp_path, "")
    result = CliRunner().invoke(main, ["validate", "--root", str(root), str(tmp_path / "nope.ttl")])
    assert result.exit_code == 2
    assert "nope.ttl" in result.output


def test_serve_refuses_invalid_data(tmp_path: Path) -> None:
    root = make_root(tmp_path, "<urn:a> a <urn:Thing> .\n")
    result = CliRunner().invoke(main, ["serve", "--root", str(root), "--port", "1"])
    assert result.exit_code == 1
    assert "refusing to serve invalid data" in result.output


@pytest.mark.parametrize("name", ["validate", "serve"])
def test_subcommand_help(name: str) -> None:
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0
    assert "--root" in result.output


FIXTURES = sorted((Path(__file__).parent / "fixtures" / "invalid").glob("*.ttl"))


def _severity(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# expect-severity:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{path.name} has no expect-severity header")


@pytest.mark.parametrize("fixture", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_validate_exits_1_on_every_invalid_fixture(fixture: Path) -> None:
    """`bolyst validate FIXTURE` fails; Warning and Info fixtures fail at their own level."""
    severity = _severity(fixture)
    args = ["validate", "-q", "--fail-on", severity.lower(), str(fixture)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "does NOT conform" in result.output


def test_validate_shipped_data_exits_0() -> None:
    result = CliRunner().invoke(main, ["validate", "-q"])
    assert result.exit_code == 0, result.output
    assert "0 violation(s)" in result.output
