"""Result formats: one table of media types per result kind, and one ``negotiate()``.

A SELECT or ASK query answers with *results* (SPARQL JSON, XML, CSV or TSV); a CONSTRUCT or
DESCRIBE query, and the service description, answer with a *graph* (Turtle, N-Triples, RDF/XML,
JSON-LD, TriG or N-Quads). The first format of each kind is its default.

>>> negotiate(RESULTS, None, None)
'application/sparql-results+json'
>>> negotiate(GRAPH, "application/rdf+xml;q=0.5, text/*", None)
'text/turtle'
>>> negotiate(GRAPH, None, "nt")
'application/n-triples'
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from bolyst.errors import NotAcceptable

Kind = Literal["results", "graph"]
RESULTS: Kind = "results"
GRAPH: Kind = "graph"

_FORMATS_NS = "http://www.w3.org/ns/formats/"


@dataclass(frozen=True)
class Format:
    """One serialization: its media type, the kind of answer it carries and its names.

    ``names`` are the values ``?format=`` accepts (case-insensitive); ``aliases`` are other media
    types clients send for it in ``Accept`` (the response always names ``media_type``).
    ``rdflib`` is the rdflib serializer name, used where we serialize a graph ourselves.
    """

    media_type: str
    kind: Kind
    label: str
    names: tuple[str, ...]
    iri: str
    rdflib: str | None = None
    aliases: tuple[str, ...] = ()
    text: bool = True


# The order matters: within a kind the first format is the default and wins ties.
FORMATS: tuple[Format, ...] = (
    Format(
        "application/sparql-results+json",
        RESULTS,
        "SPARQL JSON",
        ("json", "srj"),
        _FORMATS_NS + "SPARQL_Results_JSON",
        aliases=("application/json",),
    ),
    Format(
        "application/sparql-results+xml",
        RESULTS,
        "SPARQL XML",
        ("xml", "srx"),
        _FORMATS_NS + "SPARQL_Results_XML",
        aliases=("application/xml", "text/xml"),
    ),
    Format("text/csv", RESULTS, "CSV", ("csv",), _FORMATS_NS + "SPARQL_Results_CSV"),
    Format(
        "text/tab-separated-values",
        RESULTS,
        "TSV",
        ("tsv",),
        _FORMATS_NS + "SPARQL_Results_TSV",
    ),
    Format(
        "text/turtle",
        GRAPH,
        "Turtle",
        ("ttl", "turtle", "n3"),
        _FORMATS_NS + "Turtle",
        rdflib="turtle",
        aliases=("application/x-turtle", "application/turtle", "text/n3", "text/rdf+n3"),
    ),
    Format(
        "application/n-triples",
        GRAPH,
        "N-Triples",
        ("nt", "ntriples", "n-triples"),
        _FORMATS_NS + "N-Triples",
        rdflib="nt",
    ),
    Format(
        "application/rdf+xml",
        GRAPH,
        "RDF/XML",
        ("rdfxml", "rdf+xml", "rdf", "xml", "owl"),
        _FORMATS_NS + "RDF_XML",
        rdflib="xml",
        aliases=("application/xml", "text/xml"),
    ),
    Format(
        "application/ld+json",
        GRAPH,
        "JSON-LD",
        ("jsonld", "json-ld", "json"),
        _FORMATS_NS + "JSON-LD",
        rdflib="json-ld",
        aliases=("application/json",),
    ),
    Format("application/trig", GRAPH, "TriG", ("trig",), _FORMATS_NS + "TriG", rdflib="trig"),
    Format(
        "application/n-quads",
        GRAPH,
        "N-Quads",
        ("nq", "nquads", "n-quads"),
        _FORMATS_NS + "N-Quads",
        rdflib="nquads",
    ),
)

BY_MEDIA_TYPE: dict[str, Format] = {f.media_type: f for f in FORMATS}


def kind_of(form: str) -> Kind:
    """Say which kind of answer a query form gives.

    >>> kind_of("ASK"), kind_of("describe")
    ('results', 'graph')
    """
    return GRAPH if form.upper() in ("CONSTRUCT", "DESCRIBE") else RESULTS


def formats_of(kind: Kind) -> tuple[Format, ...]:
    """The formats of one kind, the default first."""
    return tuple(f for f in FORMATS if f.kind == kind)


def content_type(media_type: str) -> str:
    """The ``Content-Type`` header value: text formats say they are UTF-8.

    >>> content_type("text/csv")
    'text/csv; charset=utf-8'
    """
    fmt = BY_MEDIA_TYPE.get(media_type)
    return f"{media_type}; charset=utf-8" if fmt is not None and fmt.text else media_type


@functools.lru_cache(maxsize=512)  # every query asks; clients send a handful of Accept values
def negotiate(kind: Kind, accept: str | None, format_param: str | None) -> str:
    """Pick the media type to answer with.

    ``format_param`` (a short name such as ``ttl``, or a media type) overrides ``Accept``. With
    no ``Accept`` header (or an empty one) the kind's default is used. Otherwise each offer gets
    the quality of the most specific media range that matches it (RFC 9110, section 12.5.1; so
    ``text/csv;q=0, */*`` excludes CSV), media-type parameters other than ``q`` are ignored, and
    ties go to the table order.

    Raises:
        NotAcceptable: nothing of this kind fits; the message names what would.
    """
    offers = formats_of(kind)
    if format_param is not None and format_param.strip():
        return _by_name(kind, offers, format_param.strip())
    if accept is None or not accept.strip():
        return offers[0].media_type
    ranges = _parse_accept(accept)
    best: Format | None = None
    best_quality = 0.0
    for fmt in offers:
        quality = ranges.quality(fmt.media_type, fmt.aliases)
        if quality > best_quality:
            best, best_quality = fmt, quality
    if best is None:
        raise NotAcceptable(
            f"none of the media types in Accept: {accept.strip()} can carry {_what(kind)}; "
            f"ask for one of: {', '.join(f.media_type for f in offers)}",
            tuple(f.media_type for f in offers),
        )
    return best.media_type


def best_of(accept: str | None, offers: tuple[str, ...]) -> str:
    """Pick one of ``offers`` (media types) by ``Accept``; the first when none fits.

    For answers that are not query results, such as error messages.

    >>> best_of("application/json", ("text/plain", "application/json"))
    'application/json'
    >>> best_of("*/*", ("text/plain", "application/json"))
    'text/plain'
    """
    if accept is None or not accept.strip():
        return offers[0]
    ranges = _parse_accept(accept)
    best, best_quality = offers[0], 0.0
    for offer in offers:
        quality = ranges.quality(offer)
        if quality > best_quality:
            best, best_quality = offer, quality
    return best


class _Ranges:
    """Media ranges with their q-values, scored by the most specific matching range."""

    def __init__(self, ranges: list[tuple[str, float]]) -> None:
        self.ranges = ranges

    def quality(self, media_type: str, aliases: tuple[str, ...] = ()) -> float:
        """The q-value of the most specific range matching ``media_type`` (0 if none does).

        An alias counts only when the client names it exactly (``application/json`` asks for
        SPARQL JSON), never through a wildcard, and an exact range for the media type itself
        takes precedence over it.
        """
        kind, _, _ = media_type.partition("/")
        found: tuple[int, float] | None = None
        for value, q in self.ranges:
            if value == media_type:
                return q
            if value.endswith("/*") and value[:-2] == kind:
                specificity = 2
            elif value in ("*/*", "*"):
                specificity = 1
            else:
                continue
            if found is None or specificity > found[0]:
                found = (specificity, q)
        named = [q for value, q in self.ranges if value in aliases]
        if named:
            return max(named)
        return 0.0 if found is None else found[1]


def _parse_accept(header: str) -> _Ranges:
    # Werkzeug parses the header and q-values (an invalid q counts as 1, as Werkzeug does);
    # we drop media-type parameters (charset=..., header=present), which clients add freely.
    parsed = parse_accept_header(header, MIMEAccept)
    ranges = [(value.split(";", 1)[0].strip().lower(), float(quality)) for value, quality in parsed]
    return _Ranges(ranges)


def _by_name(kind: Kind, offers: tuple[Format, ...], name: str) -> str:
    wanted = name.lower()
    for fmt in offers:
        if wanted in fmt.names or wanted == fmt.media_type or wanted in fmt.aliases:
            return fmt.media_type
    names = ", ".join(fmt.names[0] for fmt in offers)
    raise NotAcceptable(
        f"format={name!r} cannot carry {_what(kind)}; use one of: {names}",
        tuple(f.media_type for f in offers),
    )


def _what(kind: Kind) -> str:
    return "query results (SELECT, ASK)" if kind == RESULTS else "a graph (CONSTRUCT, DESCRIBE)"
