"""The WSGI entry point the production server imports in each worker (settings from BOLYST_*).

The app swaps in new dataset versions and drains its query engine on SIGTERM
(:mod:`bolyst.lifecycle`)."""

import logging

from bolyst.lifecycle import serve_app

# One line per query on stderr from the "bolyst.access" logger (see bolyst.views.sparql); the
# production server does not configure Python logging itself.
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(message)s")

app = serve_app()
