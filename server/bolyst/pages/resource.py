"""The page of one resource (``/id/...``): its description turned into what people read.

The description is the one the RDF answers carry (:func:`bolyst.store.local.describe`): the
resource's own triples closed over blank nodes, then the triples that point to it. This module
groups and names them; the claims that point here (memberships, observations, link records,
statements taken from a page section) get tables of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bolyst.namespaces import BASE, ID, ONTOLOGY, ONTOLOGY_DOC
from bolyst.pages import page_queries
from bolyst.pages.i18n import translate
from bolyst.pages.site import Membership, Site, SourceRef, curie, is_ours
from bolyst.store.local import Term, Triple, describe

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
WAS_DERIVED_FROM = "http://www.w3.org/ns/prov#wasDerivedFrom"
OA_SOURCE = "http://www.w3.org/ns/oa#hasSource"
OA_SELECTOR = "http://www.w3.org/ns/oa#hasSelector"
OA_EXACT = "http://www.w3.org/ns/oa#exact"
SCHEMA_URL = "https://schema.org/url"
ORG_MEMBER = "http://www.w3.org/ns/org#member"
ORG_ORGANIZATION = "http://www.w3.org/ns/org#organization"
SOSA_FEATURE = "http://www.w3.org/ns/sosa/hasFeatureOfInterest"
DCT_SUBJECT = "http://purl.org/dc/terms/subject"
LINK_RECORD = ONTOLOGY + "LinkRecord"
# Shown in the page's heading, not again in the tables.
HEADING_PROPERTIES = {"http://www.w3.org/2004/02/skos/core#prefLabel"}
TEXT_PROPERTIES = {
    "http://purl.org/dc/terms/description",
    "http://www.w3.org/2004/02/skos/core#definition",
}


@dataclass(frozen=True)
class Link:
    """Something to link to: ``href`` is our page for our IRIs, the IRI itself for http(s) ones
    elsewhere, and ``None`` for any other scheme (never a ``javascript:`` link from the data)."""

    iri: str
    name: str
    href: str | None
    ours: bool


@dataclass
class Value:
    """One value of a property: a link, a literal (with its language) or a nested node."""

    link: Link | None = None
    text: str | None = None
    lang: str | None = None
    datatype: Link | None = None
    node: list[Statement] | None = None


@dataclass
class Statement:
    predicate: Link
    values: list[Value]


@dataclass
class Group:
    iri: str
    name: str
    statements: list[Statement]


@dataclass(frozen=True)
class Source:
    section: Link
    page: Link | None
    url: str | None
    quote: str | None
    quote_lang: str | None


@dataclass
class MemberRow:
    """One participant of an organisation (or one organisation a participant takes part in)."""

    party: Link
    roles: list[Link]
    period: str
    memberships: list[Link]
    sources: list[Source]


@dataclass
class FigureRow:
    observation: Link
    property: Link
    value: str
    time: str
    qualifier: Link | None
    sources: list[Source]


@dataclass
class IdentifierRow:
    target: Link
    register: Link | None
    confidence: Link
    candidate: bool


@dataclass
class DerivedRow:
    """A statement derived from this section (on a section's page)."""

    resource: Link
    quote: str | None
    quote_lang: str | None


@dataclass
class ResourcePage:
    iri: str
    name: str
    lang: str
    types: list[Link]
    description: str | None
    groups: list[Group]
    sources: list[Source]
    members: list[MemberRow] = field(default_factory=list)
    participation: list[MemberRow] = field(default_factory=list)
    figures: list[FigureRow] = field(default_factory=list)
    identifiers: list[IdentifierRow] = field(default_factory=list)
    derived: list[DerivedRow] = field(default_factory=list)
    incoming: list[Statement] = field(default_factory=list)
    triples: tuple[Triple, ...] = ()
    query: str = ""


def href_of(iri: str) -> str | None:
    """Where a link to ``iri`` goes: our own page for our IRIs, else the IRI (http and https only).

    >>> href_of("https://w3id.org/bolyst/id/programme/kom-trainee")
    '/id/programme/kom-trainee'
    >>> href_of("https://w3id.org/bolyst/ontology#Goal"), href_of("javascript:alert(1)")
    ('/ontology#Goal', None)
    """
    if iri.startswith(ID) or iri.startswith(ONTOLOGY_DOC):
        return "/" + iri[len(BASE) :]
    if iri.startswith(("http://", "https://")):
        return iri
    return None


def page_path(iri: str) -> str:
    """The path of our page for one of our IRIs (``/id/...``)."""
    return "/" + iri[len(BASE) :]


def link(site: Site, iri: str, lang: str) -> Link:
    return Link(iri, site.name(iri, lang), href_of(iri), is_ours(iri))


def build(site: Site, iri: str, lang: str) -> ResourcePage | None:
    """The page of ``iri``, or ``None`` when the graph says nothing about it."""
    triples = describe(site.store, iri, graphs=site.graphs)
    if not triples:
        return None
    outgoing = [t for t in triples if t[0].value == iri and t[0].is_iri]
    by_subject: dict[str, list[Triple]] = {}
    for t in triples:
        if t[0].is_bnode:
            by_subject.setdefault(t[0].value, []).append(t)
    incoming = [t for t in triples if t[2].value == iri and t[2].is_iri and t[0].value != iri]

    page = ResourcePage(
        iri=iri,
        name=site.name(iri, lang),
        lang=lang,
        types=[link(site, t, lang) for t in sorted(site.types.get(iri, []))],
        description=site.text(iri, lang),
        groups=_groups(site, outgoing, by_subject, lang, _shown_elsewhere(site, iri, lang)),
        sources=_sources_of(site, iri, lang),
        triples=triples,
    )
    page.members = _party_rows(site, site.members_of(iri), lang, party="member")
    page.participation = _party_rows(site, site.memberships_of(iri), lang, party="organization")
    page.figures = _figures(site, iri, lang)
    page.identifiers = _identifiers(site, iri, lang)
    page.derived = _derived(site, iri, lang)
    page.incoming = _incoming(site, incoming, lang)
    page.query = page_queries.with_values(
        page_queries.text("resource-page"), {"this": f"<{iri}>", "lang": f'"{lang}"'}
    )
    return page


def _shown_elsewhere(site: Site, iri: str, lang: str) -> set[str]:
    """Values the page shows elsewhere: its name and description (the heading), and its registry
    identifiers (a table of their own)."""
    shown = {site.name(iri, lang), *(i.target for i in site.identifiers.get(iri, []))}
    description = site.text(iri, lang)
    return shown | ({description} if description else set())


def _groups(
    site: Site,
    outgoing: list[Triple],
    by_subject: dict[str, list[Triple]],
    lang: str,
    elsewhere: set[str],
) -> list[Group]:
    statements: dict[str, list[Value]] = {}
    for _, prop, obj in outgoing:
        if prop.value in HEADING_PROPERTIES and (
            obj.lang in (lang, None) or obj.value in elsewhere
        ):
            continue  # the heading says it
        if prop.value in TEXT_PROPERTIES and obj.value in elsewhere:
            continue  # the heading's description
        if obj.is_iri and obj.value in elsewhere:
            continue  # the identifiers table says it
        if prop.value in (WAS_DERIVED_FROM, RDF_TYPE):
            continue  # shown as the page's sources and its types
        statements.setdefault(prop.value, []).append(_value(site, obj, by_subject, lang, 0))
    grouped: dict[str, list[Statement]] = {}
    for predicate, values in statements.items():
        values.sort(key=_value_order(lang))
        grouped.setdefault(site.group_of(predicate), []).append(
            Statement(link(site, predicate, lang), values)
        )
    groups = []
    for group in site.group_order:
        if group in grouped:
            items = sorted(grouped[group], key=lambda s: s.predicate.name.lower())
            groups.append(Group(group, site.name(group, lang), items))
    return groups


def _value_order(lang: str) -> Callable[[Value], tuple[int, str]]:
    # The reader's language first, then the other, then by text.
    def key(value: Value) -> tuple[int, str]:
        rank = 0 if value.lang in (None, lang) else 1
        return rank, (value.link.name if value.link else value.text or "").lower()

    return key


def _value(
    site: Site, term: Term, by_subject: dict[str, list[Triple]], lang: str, depth: int
) -> Value:
    if term.is_iri:
        return Value(link=link(site, term.value, lang))
    if term.is_bnode:
        nested: dict[str, list[Value]] = {}
        for _, predicate, obj in by_subject.get(term.value, []):
            if predicate.value == RDF_TYPE or depth > 3:
                continue
            nested.setdefault(predicate.value, []).append(
                _value(site, obj, by_subject, lang, depth + 1)
            )
        return Value(
            node=[Statement(link(site, p, lang), values) for p, values in sorted(nested.items())]
        )
    datatype = None
    if term.datatype and not term.datatype.startswith("http://www.w3.org/2001/XMLSchema#"):
        datatype = link(site, term.datatype, lang)
    return Value(text=site.literal(term, lang), lang=term.lang, datatype=datatype)


def _source(site: Site, ref: SourceRef, lang: str) -> Source:
    page = ref.page
    url = site.urls.get(page) if page else site.urls.get(ref.source)
    return Source(
        section=link(site, ref.source, lang),
        page=link(site, page, lang) if page else None,
        url=href_of(url) if url else None,
        quote=ref.quote,
        quote_lang=ref.quote_lang,
    )


def _sources_of(site: Site, iri: str, lang: str) -> list[Source]:
    return [_source(site, ref, lang) for ref in site.sources.get(iri, [])]


def _party_rows(
    site: Site, memberships: Iterable[Membership], lang: str, party: str
) -> list[MemberRow]:
    """Group memberships by the other party: its roles, the period and the sources."""
    rows: dict[str, MemberRow] = {}
    for m in memberships:
        other = m.member if party == "member" else m.organization
        row = rows.get(other)
        if row is None:
            row = rows[other] = MemberRow(link(site, other, lang), [], "", [], [])
        if m.role and all(r.iri != m.role for r in row.roles):
            row.roles.append(link(site, m.role, lang))
        row.memberships.append(link(site, m.iri, lang))
        period = _period(m.start, m.end, lang)
        if period and not row.period:
            row.period = period
        for source in _sources_of(site, m.iri, lang):
            if source not in row.sources:
                row.sources.append(source)
    return sorted(rows.values(), key=lambda r: r.party.name.lower())


def _period(start: str | None, end: str | None, lang: str) -> str:
    if start and end:
        return start if start == end else f"{start}–{end}"
    if start:
        return f"{translate('from', lang)} {start}"
    if end:
        return f"{translate('until', lang)} {end}"
    return ""


def _figures(site: Site, iri: str, lang: str) -> list[FigureRow]:
    rows = []
    for o in site.observations_of(iri):
        rows.append(
            FigureRow(
                observation=link(site, o.iri, lang),
                property=link(site, o.property, lang),
                value=site.observation_value(o, lang),
                time=_period(o.start, o.end, lang),
                qualifier=link(site, o.qualifier, lang) if o.qualifier else None,
                sources=_sources_of(site, o.iri, lang),
            )
        )
    return sorted(rows, key=lambda r: (r.property.name.lower(), r.time))


def _identifiers(site: Site, iri: str, lang: str) -> list[IdentifierRow]:
    return [
        IdentifierRow(
            target=Link(i.target, i.target, href_of(i.target), is_ours(i.target)),
            register=link(site, i.register, lang) if i.register else None,
            confidence=link(site, i.confidence, lang),
            candidate=i.candidate,
        )
        for i in site.identifiers.get(iri, [])
    ]


def _derived(site: Site, iri: str, lang: str) -> list[DerivedRow]:
    """The resources that cite ``iri`` as their source (on a page section's page)."""
    rows = []
    for resource, refs in site.sources.items():
        for ref in refs:
            if ref.source == iri:
                rows.append(DerivedRow(link(site, resource, lang), ref.quote, ref.quote_lang))
    return sorted(rows, key=lambda r: (r.resource.name.lower(), r.quote or ""))


def _incoming(site: Site, incoming: list[Triple], lang: str) -> list[Statement]:
    """What points here, but the claims that have tables of their own."""
    grouped: dict[str, list[Value]] = {}
    for subject, predicate, _ in incoming:
        if subject.is_bnode or predicate.value == WAS_DERIVED_FROM:
            continue  # parts of claims and citations: the "derived from here" table
        types = site.types.get(subject.value, [])
        if predicate.value in (ORG_MEMBER, ORG_ORGANIZATION) and subject.value in site.derived:
            continue  # memberships: the members table
        if predicate.value == SOSA_FEATURE:
            continue  # observations: the figures table
        if predicate.value == DCT_SUBJECT and LINK_RECORD in types:
            continue  # link records: the identifiers table
        grouped.setdefault(predicate.value, []).append(Value(link=link(site, subject.value, lang)))
    statements = [
        Statement(link(site, predicate, lang), sorted(values, key=_value_order(lang)))
        for predicate, values in grouped.items()
    ]
    return sorted(statements, key=lambda s: s.predicate.name.lower())


__all__ = ["ResourcePage", "build", "curie", "href_of", "link", "page_path"]
