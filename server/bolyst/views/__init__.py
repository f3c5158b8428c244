"""Register every blueprint on the app."""

from __future__ import annotations

from flask import Flask

from bolyst.views import common, dumps, errors, home, queries, query_ui, resources, sparql


def register(app: Flask) -> None:
    common.init_app(app)  # the page model, the reader's language, the template context
    app.register_blueprint(home.bp)
    app.register_blueprint(sparql.bp)
    app.register_blueprint(dumps.bp)
    app.register_blueprint(resources.bp)
    app.register_blueprint(queries.bp)
    app.register_blueprint(query_ui.bp)
    errors.register(app)
