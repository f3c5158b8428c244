"""The WSGI entry point the production server imports in each worker (settings from BOLYST_*)."""

import logging

from bolyst import create_app

# One line per query on stderr from the "bolyst.access" logger (see bolyst.views.sparql); the
# production server does not configure Python logging itself.
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(message)s")

app = create_app()
