"""The WSGI entry point the production server imports in each worker (settings from BOLYST_*)."""

from bolyst import create_app

app = create_app()
