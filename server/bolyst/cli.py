"""The ``bolyst`` command. Exit codes: 0 ok, 1 the data is wrong, 2 usage or input error."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click
from rdflib import Graph

from bolyst.config import load_config
from bolyst.errors import BolystError
from bolyst.load import Sources, display_name, find_sources, load_dataset, parse_file, union
from bolyst.validate import Report, validate

EXIT_OK, EXIT_INVALID, EXIT_ERROR = 0, 1, 2

root_option = click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder holding ontology/, data/ and shapes/ (default: BOLYST_ROOT or the checkout).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """bolyst: Norway's regional trainee programmes as Linked Open Data.

    Exit codes: 0 ok, 1 the data does not conform to the shapes, 2 usage or input error.
    """


def _sources(root: Path | None) -> Sources:
    return find_sources(Path(root or load_config()["ROOT"]))


def run_validation(sources: Sources, files: tuple[Path, ...] = ()) -> Report:
    """Validate the ontology plus ``files`` (default: everything in data/) against shapes/."""
    targets = (*sources.ontology, *(files or sources.data))
    dataset = load_dataset(targets, sources.root)
    origins: dict[object, tuple[str, ...]] = {}
    for graph in dataset.graphs():
        name = str(graph.identifier).rsplit("/graph/", 1)[-1]
        for subject in set(graph.subjects()):
            origins[subject] = (*origins.get(subject, ()), name + ".ttl")
    shapes = Graph()
    for path in sources.shapes:
        parse_file(path, into=shapes, root=sources.root)
    return validate(union(dataset), shapes, origins)  # type: ignore[arg-type]


@main.command("validate")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@root_option
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary line.")
def validate_command(files: tuple[Path, ...], root: Path | None, quiet: bool) -> None:
    """Validate ontology/ and data/ (or FILES) against shapes/ with SHACL.

    FILES are validated together with the ontology and its concept schemes.
    """
    started = time.perf_counter()
    try:
        sources = _sources(root)
        report = run_validation(sources, tuple(f.resolve() for f in files))
    except BolystError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    text = report.text()
    click.echo(text.rsplit("\n\n", 1)[-1] if quiet else text)
    names = ", ".join(display_name(f) for f in files) if files else "ontology/ + data/"
    verdict = "conforms" if report.conforms else "does NOT conform"
    click.echo(f"{names} {verdict} ({time.perf_counter() - started:.1f} s)")
    sys.exit(EXIT_OK if report.conforms else EXIT_INVALID)


@main.command("serve")
@root_option
@click.option("--host", default=None, help="Address to listen on [default: 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port to listen on [default: 8000].")
@click.option("--workers", type=int, default=None, help="HTTP worker processes [default: 2].")
@click.option("--allow-invalid", is_flag=True, help="Serve even when the data violates the shapes.")
def serve_command(
    root: Path | None, host: str | None, port: int | None, workers: int | None, allow_invalid: bool
) -> None:
    """Validate the data, load it into the embedded store and serve it over HTTP."""
    from granian.constants import Interfaces
    from granian.server import Server

    from bolyst import create_app

    overrides = {
        k: v
        for k, v in {"ROOT": root, "HOST": host, "PORT": port, "WORKERS": workers}.items()
        if v is not None
    }
    config = load_config(overrides)
    try:
        sources = find_sources(Path(config["ROOT"]))
        report = run_validation(sources)
        if not report.conforms:
            click.echo(report.text(), err=True)
            if not allow_invalid:
                click.echo("refusing to serve invalid data (use --allow-invalid)", err=True)
                sys.exit(EXIT_INVALID)
        started = time.perf_counter()
        stats = create_app(config).extensions["bolyst"]["stats"]
    except BolystError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    click.echo(
        f"loaded {stats.triples} triples from {stats.files} files in "
        f"{time.perf_counter() - started:.2f} s"
    )
    # Workers import bolyst.wsgi and read their settings from the environment.
    for key, value in config.items():
        os.environ[f"BOLYST_{key}"] = str(value)
    click.echo(
        f"listening on http://{config['HOST']}:{config['PORT']}/ ({config['WORKERS']} workers)"
    )
    Server(
        "bolyst.wsgi:app",
        address=config["HOST"],
        port=int(config["PORT"]),
        interface=Interfaces.WSGI,
        workers=int(config["WORKERS"]),
    ).serve()
