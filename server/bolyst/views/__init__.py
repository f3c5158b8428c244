"""Register every blueprint on the app."""

from __future__ import annotations

from flask import Flask

from bolyst.views import home


def register(app: Flask) -> None:
    app.register_blueprint(home.bp)
