"""The endpoint app over the tiny test root (tests/data/endpoint), built once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bolyst import create_app

ENDPOINT_ROOT = Path(__file__).resolve().parents[1] / "data" / "endpoint"


@pytest.fixture(scope="session")
def app() -> Iterator[Flask]:
    app = create_app({"ROOT": str(ENDPOINT_ROOT), "TESTING": True})
    yield app
    app.extensions["bolyst"]["engine"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
