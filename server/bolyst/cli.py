"""The ``bolyst`` command. Exit codes: 0 ok, 1 the data is wrong, 2 usage or input error."""

from __future__ import annotations

import gc
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bolyst.config import load_config
from bolyst.errors import BolystError
from bolyst.load import Sources, display_name, find_sources
from bolyst.validate import Report, validate_sources

if TYPE_CHECKING:
    from bolyst.store.shared import SharedZygote

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
    return validate_sources(sources, files)


@main.command("validate")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@root_option
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary line.")
@click.option(
    "--fail-on",
    type=click.Choice(["violation", "warning", "info"]),
    default="violation",
    show_default=True,
    help="The least severe result that makes the exit code 1.",
)
def validate_command(files: tuple[Path, ...], root: Path | None, quiet: bool, fail_on: str) -> None:
    """Validate ontology/ and data/ (or FILES) against shapes/ with SHACL.

    FILES are validated together with the ontology and its concept schemes. Warnings (e.g. two
    sources giving different figures) are reported but pass unless --fail-on says otherwise.
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
    failing = {"violation": ("Violation",), "warning": ("Violation", "Warning")}.get(
        fail_on, ("Violation", "Warning", "Info")
    )
    ok = not any(report.count(severity) for severity in failing)
    verdict = "conforms" if ok else "does NOT conform"
    click.echo(f"{names} {verdict} ({time.perf_counter() - started:.1f} s)")
    sys.exit(EXIT_OK if ok else EXIT_INVALID)


@main.command("build")
@root_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Release folder [default: BOLYST_DUMPS_DIR or <root>/dist].",
)
def build_command(root: Path | None, out: Path | None) -> None:
    """Validate, then write the dumps, their VoID + DCAT description and SHA256SUMS.

    The release folder is replaced as a whole or not at all: a build that fails (invalid data,
    a write error, a full disk) leaves the previous release as it was. The same input gives
    byte-identical files. Exit codes: 0 built, 1 the data does not conform (nothing written),
    2 input or write error.
    """
    from bolyst.build import DataNotConforming, build

    config = load_config({"ROOT": root} if root else None)
    target = out or Path(config["DUMPS_DIR"])
    try:
        result = build(Path(config["ROOT"]), target, progress=click.echo)
    except DataNotConforming as exc:
        click.echo(exc.report.text(), err=True)
        click.echo("does NOT conform: nothing built, the previous release is unchanged", err=True)
        sys.exit(EXIT_INVALID)
    except BolystError as exc:
        click.echo(f"error: {exc}", err=True)
        click.echo("nothing built, the previous release is unchanged", err=True)
        sys.exit(EXIT_ERROR)
    click.echo(
        f"built release {result.version} in {display_name(result.directory)} "
        f"({len(result.files)} files, {result.seconds:.1f} s)"
    )


@main.command("serve")
@root_option
@click.option("--host", default=None, help="Address to listen on [default: 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port to listen on [default: 8000].")
@click.option("--workers", type=int, default=None, help="HTTP worker processes [default: 2].")
@click.option("--allow-invalid", is_flag=True, help="Serve even when the data violates the shapes.")
@click.option(
    "--skip-validation",
    is_flag=True,
    help="Serve without validating first (quick restarts, tests); the data must still parse.",
)
@click.option(
    "--store",
    metavar="DIR|URL",
    default=None,
    help="Query a pyoxigraph store on disk in DIR, or the SPARQL server at URL (its query "
    "endpoint, loaded with `bolyst load --to`) [default: BOLYST_STORE, or in memory].",
)
@click.option(
    "--reload-on-change",
    is_flag=True,
    help="Serve a new version of the data files as soon as they change, without a failed "
    "request (every BOLYST_RELOAD_INTERVAL seconds, default 2).",
)
def serve_command(
    root: Path | None,
    host: str | None,
    port: int | None,
    workers: int | None,
    allow_invalid: bool,
    skip_validation: bool,
    store: str | None,
    reload_on_change: bool,
) -> None:
    """Validate the data, load it into the embedded store and serve it over HTTP.

    SIGTERM (or Ctrl-C) answers the requests in flight and exits: running queries get
    BOLYST_SHUTDOWN_GRACE seconds (default 3), then a 503.
    """
    from granian.constants import Interfaces
    from granian.server import Server

    from bolyst import create_app

    overrides = {
        k: v
        for k, v in {
            "ROOT": root,
            "HOST": host,
            "PORT": port,
            "WORKERS": workers,
            "STORE": store,
        }.items()
        if v is not None
    }
    config = load_config(overrides)
    if reload_on_change and not float(config["RELOAD_INTERVAL"] or 0):
        config["RELOAD_INTERVAL"] = 2.0
    zygote = None
    try:
        sources = find_sources(Path(config["ROOT"]))
        # First of all, while this process has one thread: the data, loaded once for every
        # worker, and the zygote that forks their evaluators (bolyst.store.shared).
        zygote = _share_dataset(sources, config)
        report = None if skip_validation else run_validation(sources)
        if report is not None and not report.conforms:
            click.echo(report.text(), err=True)
            if not allow_invalid:
                click.echo("refusing to serve invalid data (use --allow-invalid)", err=True)
                sys.exit(EXIT_INVALID)
        _ensure_release(
            sources, Path(config["DUMPS_DIR"]), conforms=report is not None and report.conforms
        )
        started = time.perf_counter()
        state = create_app(config).extensions["bolyst"]
        stats = state["stats"]
        # Each worker starts its own query engine; this one only proved that it starts.
        engine = state["engine"]
        engine.close()
    except BolystError as exc:
        if zygote is not None:
            zygote.stop()
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except BaseException:
        if zygote is not None:
            zygote.stop()
        raise
    click.echo(
        f"loaded {stats.triples} triples from {stats.files} files in {stats.seconds:.2f} s; "
        f"pages and query engine ready in {time.perf_counter() - started:.2f} s"
    )
    if state.get("backend") == "remote":
        click.echo(f"query engine: the SPARQL store at {config['STORE']} ({engine.dialect.name})")
    else:
        click.echo(
            f"query engine: {engine.stats.evaluators} evaluator processes per worker, started in "
            f"{engine.stats.seconds:.2f} s, forked from "
            + ("one zygote for all workers" if zygote is not None else "a zygote per worker")
            + "; network "
            + ("isolated" if engine.stats.isolated else "NOT isolated (the query policy guards)")
        )
        from bolyst.store.pool import describe_bounds

        for line in describe_bounds(config):
            click.echo(line, err=line.startswith("warning"))
    # Workers import bolyst.wsgi and read their settings from the environment.
    for key, value in config.items():
        os.environ[f"BOLYST_{key}"] = str(value)
    click.echo(
        f"listening on http://{config['HOST']}:{config['PORT']}/ ({config['WORKERS']} workers)"
    )
    # The workers are forked from here: keep the collector off the objects they share.
    gc.freeze()
    try:
        Server(
            "bolyst.wsgi:app",
            address=config["HOST"],
            port=int(config["PORT"]),
            interface=Interfaces.WSGI,
            workers=int(config["WORKERS"]),
            respawn_failed_workers=True,  # a worker that dies is replaced, not the server's end
            # SIGTERM: each worker drains (bolyst.lifecycle); this is the backstop.
            workers_kill_timeout=int(float(config["SHUTDOWN_GRACE"])) + 3,
        ).serve()
    finally:
        if zygote is not None:
            zygote.stop()


def _share_dataset(sources: Sources, config: dict[str, Any]) -> SharedZygote | None:
    """Load the data once and fork the zygote every worker's pool will use; tell the workers
    where it listens (ZYGOTE, ZYGOTE_VERSION). None for a remote store, which has no zygote."""
    from bolyst.load import dataset_version
    from bolyst.store.backend import is_remote
    from bolyst.store.shared import from_disk, preload, start_shared_zygote

    target = str(config.get("STORE") or "")
    if is_remote(target):
        return None
    version = dataset_version(sources)
    if target:  # the workers open the store on disk themselves; the zygote evaluates in memory
        from bolyst.store.disk import open_disk_store

        disk, _ = open_disk_store(Path(target), sources)
        memory = from_disk(disk)
        del disk
    else:
        memory = preload(sources, version).store
    zygote = start_shared_zygote(memory, int(config.get("QUERY_MEMORY_MB", 1024)))
    del memory
    config["ZYGOTE"] = zygote.path
    config["ZYGOTE_VERSION"] = version
    return zygote


def _ensure_release(sources: Sources, dumps: Path, *, conforms: bool) -> None:
    """Build the release /dumps/ serves when there is none yet (data just validated only)."""
    from bolyst.build import build
    from bolyst.release import read_release

    if read_release(dumps) is not None:
        return
    if not conforms:
        click.echo(f"no release in {dumps}: /dumps/ is empty until `bolyst build` runs", err=True)
        return
    click.echo(f"no release in {dumps}: building one")
    result = build(sources.root, dumps, progress=click.echo, validate_first=False)
    click.echo(f"built release {result.version} ({result.seconds:.1f} s)")


@main.command("load")
@root_option
@click.option(
    "--to",
    "target",
    required=True,
    metavar="URL|DIR",
    help="A SPARQL server's query URL (Oxigraph http://host:7878/query, Virtuoso "
    "http://host:8890/sparql), or a folder for a pyoxigraph store on disk.",
)
@click.option(
    "--kind",
    type=click.Choice(["oxigraph", "virtuoso", "standard"]),
    default=None,
    help="Kind of server [guessed from the URL].",
)
@click.option("--update-url", default=None, help="SPARQL Update URL [derived from --to].")
@click.option("--store-url", default=None, help="Graph Store Protocol URL [derived from --to].")
@click.option("--batch", type=int, default=100_000, show_default=True, help="Triples per request.")
@click.option(
    "--timeout", type=float, default=300.0, show_default=True, help="Seconds per request."
)
@click.option("--retries", type=int, default=4, show_default=True, help="Retries with back-off.")
@click.option("--prune", is_flag=True, help="Also drop our graphs that no file has any more.")
@click.option("--skip-validation", is_flag=True, help="Load without validating first.")
def load_command(
    root: Path | None,
    target: str,
    kind: str | None,
    update_url: str | None,
    store_url: str | None,
    batch: int,
    timeout: float,
    retries: int,
    prune: bool,
    skip_validation: bool,
) -> None:
    """Validate, then load every file into its named graph of a SPARQL server (or a folder).

    Each graph is replaced as a whole or not at all (batches go to temporary graphs, then one
    update swaps them in), and its triples are counted on the server afterwards. Exit codes:
    0 loaded, 1 the data does not conform (nothing sent), 2 a file, a request or a count failed.
    """
    from bolyst.store.backend import is_remote

    started = time.perf_counter()
    try:
        sources = _sources(root)
        if not skip_validation:
            report = run_validation(sources)
            if not report.conforms:
                click.echo(report.text(), err=True)
                click.echo("does NOT conform: nothing loaded", err=True)
                sys.exit(EXIT_INVALID)
        if is_remote(target):
            from bolyst.store.upload import endpoints_for, upload

            endpoints = endpoints_for(target, kind=kind, update=update_url, store=store_url)
            results = upload(
                sources,
                endpoints,
                batch_triples=batch,
                timeout=timeout,
                retries=retries,
                prune=prune,
                progress=click.echo,
            )
            triples, graphs = sum(r.triples for r in results), len(results)
        else:
            from bolyst.store.disk import build_disk_store

            stats, _ = build_disk_store(Path(target), sources, progress=click.echo)
            triples, graphs = stats.triples, stats.files
    except BolystError as exc:
        click.echo(f"error: {exc}", err=True)
        click.echo("graphs not yet replaced keep their old content", err=True)
        sys.exit(EXIT_ERROR)
    click.echo(
        f"loaded {triples:,} triples in {graphs} graphs into {target} "
        f"in {time.perf_counter() - started:.1f} s"
    )


@main.command("synth")
@click.option("--triples", type=int, default=100_000, show_default=True, help="About this many.")
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Root to write."
)
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same files.")
@root_option
def synth_command(triples: int, out: Path, seed: int, root: Path | None) -> None:
    """Write a root folder with synthetic data of about --triples triples (for benchmarks).

    The data (data/synthetic-*.ttl) are invented programmes, organisations, memberships,
    observations, goals and reviews in our ontology that conform to shapes/; ontology/, shapes/
    and queries/ are copied from --root. Deterministic for a given --seed.
    """
    from bolyst.synthetic import generate

    source = Path(root or load_config()["ROOT"])
    result = generate(out, triples, seed=seed, source_root=source, progress=click.echo)
    click.echo(
        f"wrote {result.triples:,} triples ({result.programmes} programmes, "
        f"{result.organisations} organisations) in {len(result.files)} files under "
        f"{display_name(result.root / 'data')} in {result.seconds:.1f} s"
    )


@main.command("link")
@root_option
@click.option("--write", is_flag=True, help="Write the changed files (default: show the diff).")
@click.option(
    "--check", is_flag=True, help="Check the link sets: patterns, check digits, identities."
)
@click.option(
    "--endpoint", metavar="URL", help="Take Wikidata candidates from this SPARQL endpoint."
)
@click.option("--force", is_flag=True, help="Also overwrite link-set files edited by hand.")
@click.option("--verbose", "-v", is_flag=True, help="List the unmatched and ambiguous resources.")
@click.option("--date", "when", metavar="YYYY-MM-DD", help="dct:modified for changed sets [today].")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds per request.")
@click.option("--retries", type=int, default=4, show_default=True, help="Retries with back-off.")
@click.option(
    "--min-interval", type=float, default=1.0, show_default=True, help="Seconds between requests."
)
def link_command(
    root: Path | None,
    write: bool,
    check: bool,
    endpoint: str | None,
    force: bool,
    verbose: bool,
    when: str | None,
    timeout: float,
    retries: int,
    min_interval: float,
) -> None:
    """Regenerate data/links/ from data/refdata/ (and --endpoint), or --check it.

    Prints matched / unmatched / ambiguous counts per register and the diff against the files;
    writes only with --write. data/links/curated.ttl is never written, and a generated file that
    was edited by hand is not overwritten without --force. Exit codes: 0 ok, 1 problems found
    (--check) or a hand-edited file refused, 2 usage, input or endpoint error.
    """
    from datetime import date
    from importlib.metadata import version

    from bolyst import link, linkcheck
    from bolyst.store.remote import RemoteEndpoint

    base = Path(root or load_config()["ROOT"]).resolve()
    try:
        if check:
            problems = linkcheck.check_links(base)
            for problem in problems:
                click.echo(str(problem))
            summary = f"{len(problems)} problem(s) in the link sets" if problems else "link sets ok"
            click.echo(summary)
            sys.exit(EXIT_INVALID if problems else EXIT_OK)
        today = date.fromisoformat(when) if when else date.today()
        remote = None
        if endpoint:
            remote = RemoteEndpoint(
                endpoint,
                link.user_agent(version("bolyst")),
                timeout=timeout,
                retries=retries,
                min_interval=min_interval,
            )
        results = link.match_all(base, remote)
        changes = link.plan(base, results, today)
    except ValueError as exc:
        click.echo(f"error: --date: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except BolystError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    for result in results:
        click.echo(result.tally.summary(result.links))
        if verbose:
            for line in result.tally.details(result.links):
                click.echo(line)
    changed = [c for c in changes if c.changed]
    for change in changed:
        click.echo(change.diff(base), nl=False)
    if not changed:
        click.echo("link sets up to date")
        return
    if not write:
        click.echo(f"{len(changed)} file(s) would change; run with --write to write them")
        return
    written, refused = link.write(changes, force=force)
    for path in written:
        click.echo(f"wrote {display_name(path, base)}")
    for path in refused:
        click.echo(
            f"refused {display_name(path, base)}: edited by hand (its checksum no longer matches); "
            "move the edits to data/links/curated.ttl, or use --force",
            err=True,
        )
    sys.exit(EXIT_INVALID if refused else EXIT_OK)
