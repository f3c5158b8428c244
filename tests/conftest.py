"""Shared fixtures: where the repository is; a release built from a copy of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def release_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository's sources, so builds never write into the repository's dist/."""
    root = tmp_path_factory.mktemp("release-root")
    for folder in ("ontology", "data", "shapes", "catalog"):
        shutil.copytree(REPO_ROOT / folder, root / folder)
    shutil.copy(REPO_ROOT / "CHANGELOG.md", root / "CHANGELOG.md")
    return root


@pytest.fixture(scope="session")
def built_release(release_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The release of :func:`release_root`, built once. Not validated here: validating the shipped
    data against shapes/ takes most of a minute and is test_knowledge_graph.py's job; the build's
    own validation step is tested on small roots in test_build.py."""
    from bolyst.build import build

    out = tmp_path_factory.mktemp("release") / "dist"
    build(release_root, out, validate_first=False)
    return out
