"""Settings as data: name, default and help. Read from a mapping or ``BOLYST_*`` variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str


def _default_root() -> str:
    # An editable install runs from the checkout: server/bolyst/ -> the repository root.
    here = Path(__file__).resolve().parents[2]
    cwd = Path.cwd()
    return str(cwd if (cwd / "data").is_dir() and (cwd / "ontology").is_dir() else here)


SETTINGS = (
    Setting("ROOT", None, "Folder holding ontology/, data/, shapes/ and queries/."),
    Setting("HOST", "127.0.0.1", "Address to listen on (loopback by default)."),
    Setting("PORT", 8000, "Port to listen on."),
    Setting("WORKERS", 2, "Number of HTTP worker processes."),
    Setting(
        "CACHE_MAX_AGE",
        300,
        "Seconds a GET answer of /sparql may be reused before it is revalidated by its ETag.",
    ),
)


def load_config(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then ``BOLYST_<NAME>`` environment variables, then ``overrides``."""
    config: dict[str, Any] = {}
    for setting in SETTINGS:
        value = os.environ.get(f"BOLYST_{setting.name}", setting.default)
        if isinstance(setting.default, int) and isinstance(value, str):
            value = int(value)
        config[setting.name] = value
    config.update(overrides or {})
    if not config["ROOT"]:
        config["ROOT"] = _default_root()
    return config
