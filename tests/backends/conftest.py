"""The ``backend`` fixture: the same app over each store (issue 8).

- ``embedded``: the evaluator pool over the files in memory (the default);
- ``disk``: the evaluator pool over a pyoxigraph store on disk (``--store DIR``);
- ``oxigraph``: an Oxigraph server (the PyPI package's binary) on a loopback port;
- ``virtuoso``: Debian's Virtuoso 7 (``virtuoso-opensource-7-bin``) on loopback ports.

Each server is started once per session in a throwaway directory, loaded with the repository's
files by ``bolyst load``'s code (:func:`bolyst.store.upload.upload`), and stopped at the end.
Without Virtuoso installed its tests are skipped, except in CI (``CI=true``), where they fail:
``make setup-test`` installs it.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bolyst import create_app
from bolyst.load import find_sources
from bolyst.store.upload import endpoints_for, upload
from bolyst.testservers import Server, ServerError, start_oxigraph, start_virtuoso

REPO_ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ("embedded", "disk", "oxigraph", "virtuoso")


def load_test_module(name: str) -> ModuleType:
    """Import a test module of tests/ by path (the tests are not a package)."""
    path = REPO_ROOT / "tests" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bolyst_tests_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Backend:
    """One store behind the app: ``server`` is the SPARQL server, when there is one."""

    name: str
    app: Flask
    server: Server | None = None

    @property
    def client(self) -> FlaskClient:
        return self.app.test_client()

    @property
    def engine(self) -> Any:
        return self.app.extensions["bolyst"]["engine"]


def _server(kind: str, directory: Path) -> Server:
    try:
        if kind == "oxigraph":
            return start_oxigraph(directory)
        return start_virtuoso(directory)
    except ServerError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"{kind} is not available here: {exc}")


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    """The started servers, by kind (started on first use, stopped at the end)."""
    started: dict[str, Server] = {}
    yield started
    for server in started.values():
        server.stop()


@pytest.fixture(scope="session")
def start_server(
    servers: dict[str, Server], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Server]:
    def start(kind: str) -> Server:
        if kind not in servers:
            server = _server(kind, tmp_path_factory.mktemp(kind) / "db")
            upload(find_sources(REPO_ROOT), endpoints_for(server.query_url, kind=kind))
            servers[kind] = server
        return servers[kind]

    return start


_apps: dict[str, Backend] = {}


@pytest.fixture(scope="session", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest,
    start_server: Callable[[str], Server],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Backend]:
    """The app over the repository, with each store in turn."""
    name: str = request.param
    settings: dict[str, Any] = {"ROOT": str(REPO_ROOT), "TESTING": True}
    server = None
    if name == "disk":
        settings["STORE"] = str(tmp_path_factory.mktemp("disk") / "store")
    elif name in ("oxigraph", "virtuoso"):
        server = start_server(name)
        settings["STORE"] = server.query_url
    app = create_app(settings)
    yield Backend(name, app, server)
    app.extensions["bolyst"]["engine"].close()
