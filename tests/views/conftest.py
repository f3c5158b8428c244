"""The endpoint app over the tiny test root (tests/data/endpoint), built once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


# --- the pages (tests/views/test_pages.py, test_resources.py, test_queries_views.py) -------------

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGES_ROOT = Path(__file__).resolve().parents[1] / "data" / "pages"


def hostile_root(into: Path) -> Path:
    """A root with hostile names (tests/data/pages) plus two stored queries of the real ones."""
    import shutil

    shutil.copytree(PAGES_ROOT, into, dirs_exist_ok=True)
    for name in ("programmes", "rates-side-by-side"):
        shutil.copy(REPO_ROOT / "queries" / f"{name}.rq", into / "queries" / f"{name}.rq")
    return into


@pytest.fixture(scope="session")
def site_app() -> Iterator[Flask]:
    """The app over the repository itself: the real ontology, data and stored queries."""
    app = create_app({"ROOT": str(REPO_ROOT), "TESTING": True})
    yield app
    app.extensions["bolyst"]["engine"].close()


@pytest.fixture
def site_client(site_app: Flask) -> FlaskClient:
    return site_app.test_client()


@pytest.fixture(scope="session")
def hostile_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    root = hostile_root(tmp_path_factory.mktemp("hostile-root"))
    app = create_app({"ROOT": str(root), "TESTING": True})
    yield app
    app.extensions["bolyst"]["engine"].close()


@pytest.fixture
def hostile_client(hostile_app: Flask) -> FlaskClient:
    return hostile_app.test_client()


def check_page(body: bytes | str) -> Any:
    """Parse a page as strict HTML5 and check what a parser does not: unique ids, references
    to ids that exist, the lang attribute, labelled form controls, images with alt text, one h1,
    and no resource loaded from another host. Returns the parsed tree (ElementTree)."""
    import html5lib

    text = body.decode("utf-8") if isinstance(body, bytes) else body
    parser = html5lib.HTMLParser(
        tree=html5lib.getTreeBuilder("etree"), strict=True, namespaceHTMLElements=False
    )
    root = parser.parse(text)  # raises html5lib.html5parser.ParseError on any parse error
    elements = list(root.iter())
    for element in elements:  # SVG elements come namespaced; the checks want plain tag names
        if isinstance(element.tag, str):
            element.tag = element.tag.rsplit("}", 1)[-1]
    ids = [e.get("id") for e in elements if e.get("id")]
    assert len(ids) == len(set(ids)), f"duplicate ids: {sorted(i for i in ids if ids.count(i) > 1)}"
    known = set(ids)
    assert root.get("lang") in ("en", "nb"), "the html element says its language"
    assert [e.tag for e in elements].count("h1") == 1, "one h1 per page"
    labelled = {e.get("for") for e in elements if e.tag == "label"}
    for e in elements:
        for attribute in ("aria-labelledby", "aria-describedby"):
            for ref in (e.get(attribute) or "").split():
                assert ref in known, f"{attribute}={ref!r} points to no element"
        href = e.get("href") or ""
        if e.tag == "a" and href.startswith("#") and len(href) > 1:
            assert href[1:] in known, f"in-page link {href} has no target"
        if e.tag in ("input", "select", "textarea") and e.get("type") not in ("hidden", "submit"):
            assert e.get("id") in labelled or e.get("aria-label"), f"unlabelled {e.tag}"
        if e.tag == "img":
            assert e.get("alt") is not None, "an image without alt text"
        # Nothing is loaded from another host: scripts, styles, images, frames, icons.
        for attribute in (
            ("src", "href")
            if e.tag in ("script", "link", "img", "iframe", "source", "embed")
            else ()
        ):
            url = e.get(attribute) or ""
            if e.tag == "link" and e.get("rel") in ("canonical", "alternate"):
                continue  # links, not loads
            assert url.startswith(("/", "data:", "#")) or not url, f"<{e.tag}> loads {url}"
    return root


@pytest.fixture(scope="session")
def page_check() -> Any:
    return check_page
