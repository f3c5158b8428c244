"""Our IRIs and the prefixes we publish with them."""

from __future__ import annotations

from pathlib import PurePosixPath

BASE = "https://w3id.org/bolyst/"
ONTOLOGY = BASE + "ontology#"
ONTOLOGY_DOC = BASE + "ontology"
ID = BASE + "id/"
GRAPH = BASE + "graph/"
SHAPES = BASE + "shapes#"

PREFIXES: dict[str, str] = {
    "bolyst": ONTOLOGY,
    "shp": SHAPES,
    "prog": ID + "programme/",
    "orgn": ID + "organisation/",
    "mem": ID + "membership/",
    "obs": ID + "observation/",
    "goal": ID + "goal/",
    "src": ID + "source/",
    "sec": ID + "section/",
    "au": ID + "admin-unit/",
    "role": ID + "role/",
    "prop": ID + "property/",
    "scheme": ID + "scheme/",
    "org": "http://www.w3.org/ns/org#",
    "prov": "http://www.w3.org/ns/prov#",
    "dcat": "http://www.w3.org/ns/dcat#",
    "sosa": "http://www.w3.org/ns/sosa/",
    "time": "http://www.w3.org/2006/time#",
    "oa": "http://www.w3.org/ns/oa#",
    "dct": "http://purl.org/dc/terms/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "schema": "https://schema.org/",
    "cv": "http://data.europa.eu/m8g/",
    "owl": "http://www.w3.org/2002/07/owl#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "sh": "http://www.w3.org/ns/shacl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}


def graph_iri(relative_path: str) -> str:
    """Name the graph a file is loaded into: ``<folder>/<stem>`` under our graph base.

    >>> graph_iri("data/kom-trainee.ttl")
    'https://w3id.org/bolyst/graph/data/kom-trainee'
    >>> graph_iri("data/links/wikidata.ttl")
    'https://w3id.org/bolyst/graph/data/links/wikidata'
    """
    path = PurePosixPath(relative_path)
    return GRAPH + str(path.with_suffix(""))
