"""Register every blueprint on the app."""

from __future__ import annotations

from flask import Flask

from bolyst.views import dumps, errors, home, sparql


def register(app: Flask) -> None:
    app.register_blueprint(home.bp)
    app.register_blueprint(sparql.bp)
    app.register_blueprint(dumps.bp)
    errors.register(app)
