"""A real headless Chromium (Debian's chromium + chromedriver) against the real app on loopback.

The app runs in a thread (Werkzeug's threaded server on a free port); the browser is driven by
Selenium with explicit paths to the binaries (Selenium Manager would try the network) and the
flags of shared/guide/toolchain.md §2. Every test checks, at the end, that the browser logged no
error and asked no host but 127.0.0.1 (Chrome's performance log records every request).
Screenshots go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from werkzeug.serving import make_server

from bolyst import create_app

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
    "--lang=en-GB",
)


@dataclass
class Server:
    app: Flask
    base: str


def _serve(app: Flask) -> Iterator[Server]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(app, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        app.extensions["bolyst"]["engine"].close()


@pytest.fixture(scope="session")
def live() -> Iterator[Server]:
    """The app over the repository itself, served on loopback."""
    yield from _serve(create_app({"ROOT": str(REPO_ROOT)}))


@pytest.fixture(scope="session")
def hostile_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app over tests/data/pages (hostile names) plus two of the real stored queries."""
    root = tmp_path_factory.mktemp("hostile-browser-root")
    shutil.copytree(REPO_ROOT / "tests" / "data" / "pages", root, dirs_exist_ok=True)
    for name in ("programmes", "rates-side-by-side"):
        shutil.copy(REPO_ROOT / "queries" / f"{name}.rq", root / "queries" / f"{name}.rq")
    yield from _serve(create_app({"ROOT": str(root)}))


@pytest.fixture(scope="session")
def driver() -> Iterator[object]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail(f"{CHROMIUM} and {CHROMEDRIVER} are needed: run `make setup-test` (as root)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="bolyst-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    browser.set_page_load_timeout(30)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser(driver: object) -> Iterator[object]:
    """The session's browser, its logs drained before the test and checked after it."""
    drain(driver)
    yield driver
    problems = drain(driver)
    assert not problems, "\n".join(problems)


def drain(driver: object) -> list[str]:
    """Read and clear the browser's logs; return console errors and requests off loopback."""
    problems: list[str] = []
    for entry in driver.get_log("browser"):  # type: ignore[attr-defined]
        if entry["level"] in ("SEVERE", "ERROR"):
            problems.append(f"console: {entry['message']}")
    for entry in driver.get_log("performance"):  # type: ignore[attr-defined]
        message = json.loads(entry["message"])["message"]
        if message.get("method") != "Network.requestWillBeSent":
            continue
        url = message["params"]["request"]["url"]
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about", "chrome", "devtools"):
            continue
        if parts.hostname != "127.0.0.1":
            problems.append(f"request to another host: {url}")
    return problems


@pytest.fixture(scope="session")
def shoot() -> object:
    return screenshot


def screenshot(driver: object, name: str, full: bool = True) -> Path:
    """Save a PNG of the page (the whole height, up to 4000 px) to test-artifacts/."""
    path = ARTIFACTS / f"{name}.png"
    size = driver.get_window_size()  # type: ignore[attr-defined]
    if full:
        height = driver.execute_script("return document.documentElement.scrollHeight")  # type: ignore[attr-defined]
        driver.set_window_size(size["width"], min(int(height) + 20, 4000))  # type: ignore[attr-defined]
    driver.save_screenshot(str(path))  # type: ignore[attr-defined]
    driver.set_window_size(size["width"], size["height"])  # type: ignore[attr-defined]
    return path
