"""What the HTML pages show, computed from the trusted in-process store without Flask.

:class:`~bolyst.pages.site.Site` reads the indexes every page needs (names, types, memberships,
observations, sources, identifiers) once per app; the other modules turn them into page models:
:mod:`~bolyst.pages.resource` (``/id/...``), :mod:`~bolyst.pages.ontology` (``/ontology``),
:mod:`~bolyst.pages.landing` (``/``), :mod:`~bolyst.pages.tables` (stored-query answers) and
:mod:`~bolyst.pages.charts` (server-side SVG). The SPARQL they run is in ``pages/sparql/``.
"""
