"""The indexes every page needs, read once from the trusted store: names, texts, types, groups,
memberships, observations, sources and identifiers.

The store does not change while the app runs, so one :class:`Site` per app is enough; building it
takes a few milliseconds (a dozen small SELECTs over the whole graph).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bolyst.namespaces import ID, ONTOLOGY, ONTOLOGY_DOC, PREFIXES, graph_iri
from bolyst.pages import page_queries
from bolyst.pages.i18n import LANGUAGES, format_number, format_percent, translate
from bolyst.store.local import Term, open_memory_store, select_terms

if TYPE_CHECKING:
    import pyoxigraph as ox

VOCABULARY = Path(__file__).with_name("vocabulary.ttl")
UI = "https://w3id.org/bolyst/pages#"
OTHER_GROUP = UI + "other"
XSD = "http://www.w3.org/2001/XMLSchema#"
VALUE_TYPE = ID + "value-type/"
# The label properties, best first.
_NAME_RANK = {
    "http://www.w3.org/2004/02/skos/core#prefLabel": 0,
    "http://www.w3.org/2000/01/rdf-schema#label": 1,
    "https://schema.org/name": 2,
    "http://purl.org/dc/terms/title": 3,
}
_NUMERIC = {XSD + t for t in ("integer", "decimal", "double", "float", "nonNegativeInteger")}
Localized = dict[str, str]  # language ("" for none) -> text


@dataclass(frozen=True)
class Membership:
    iri: str
    member: str
    organization: str
    role: str | None
    start: str | None
    end: str | None


@dataclass(frozen=True)
class Observation:
    iri: str
    feature: str
    property: str
    value: Term | None
    result: str | None
    minimum: str | None
    maximum: str | None
    amount: str | None
    currency: str | None
    qualifier: str | None
    start: str | None
    end: str | None


@dataclass(frozen=True)
class SourceRef:
    """Where a resource comes from: a page section (or another source) and the quoted words."""

    source: str
    quote: str | None
    quote_lang: str | None
    page: str | None


@dataclass(frozen=True)
class Identifier:
    """A link record: our resource is ``target`` in ``register`` (or may be, if ``candidate``)."""

    target: str
    register: str | None
    predicate: str | None
    confidence: str
    candidate: bool


@dataclass
class Site:
    """The trusted store, the graphs to read (ontology and data) and the indexes built from them."""

    store: ox.Store
    graphs: tuple[str, ...]
    names: dict[str, Localized] = field(default_factory=dict)
    texts: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    types: dict[str, list[str]] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    group_order: list[str] = field(default_factory=list)
    value_types: dict[str, str] = field(default_factory=dict)
    memberships: list[Membership] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    sources: dict[str, list[SourceRef]] = field(default_factory=dict)
    identifiers: dict[str, list[Identifier]] = field(default_factory=dict)
    derived: dict[str, Localized] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    _by_english: dict[str, str] = field(default_factory=dict, repr=False)

    # --- building -------------------------------------------------------------------------------

    @classmethod
    def open(cls, store: ox.Store, graphs: Iterable[str]) -> Site:
        """Read the indexes from ``store`` (the union of ``graphs``) and pages/vocabulary.ttl."""
        site = cls(store, tuple(graphs))
        vocabulary, _ = open_memory_store([VOCABULARY], VOCABULARY.parent)
        vocabulary_graphs = [graph_iri(VOCABULARY.name)]
        site._read_names(site._rows("labels"))
        site._read_names(site._rows("labels", vocabulary, vocabulary_graphs), fallback=True)
        site._read_groups(site._rows("groups", vocabulary, vocabulary_graphs))
        for row in site._rows("texts"):
            lang = row["text"].lang or ""
            site.texts.setdefault(row["thing"].value, {}).setdefault(lang, []).append(
                row["text"].value
            )
        for row in site._rows("types"):
            site.types.setdefault(row["thing"].value, []).append(row["type"].value)
        for row in site._rows("value-types"):
            site.value_types[row["property"].value] = row["valueType"].value
        for row in site._rows("urls"):
            site.urls.setdefault(row["thing"].value, row["url"].value)
        site._read_memberships()
        site._read_observations()
        site._read_sources()
        site._read_identifiers()
        site._derive_names()
        return site

    def _rows(
        self, name: str, store: ox.Store | None = None, graphs: Iterable[str] | None = None
    ) -> list[dict[str, Term]]:
        return select_terms(
            store if store is not None else self.store,
            page_queries.text(name),
            default_graphs=graphs if graphs is not None else self.graphs,
        )

    def _read_names(self, rows: list[dict[str, Term]], fallback: bool = False) -> None:
        ranks: dict[tuple[str, str], tuple[int, str]] = {}
        for row in rows:
            iri, label = row["thing"].value, row["label"]
            lang = label.lang or ""
            rank = (_NAME_RANK.get(row["property"].value, 9), label.value)
            key = (iri, lang)
            if key not in ranks or rank < ranks[key]:
                ranks[key] = rank
        for (iri, lang), (_, text) in sorted(ranks.items()):
            names = self.names.setdefault(iri, {})
            if fallback:
                names.setdefault(lang, text)
            else:
                names[lang] = text

    def _read_groups(self, rows: list[dict[str, Term]]) -> None:
        for row in rows:
            group = row["group"].value
            if group not in self.group_order:
                self.group_order.append(group)
            if "property" in row:
                self.groups[row["property"].value] = group

    def _read_memberships(self) -> None:
        for row in self._rows("memberships"):
            self.memberships.append(
                Membership(
                    row["membership"].value,
                    row["member"].value,
                    row["organization"].value,
                    _value(row, "role"),
                    _value(row, "start"),
                    _value(row, "end"),
                )
            )

    def _read_observations(self) -> None:
        seen: set[str] = set()
        for row in self._rows("observations"):
            iri = row["observation"].value
            if iri in seen:  # two periods or results would repeat the row; keep the first
                continue
            seen.add(iri)
            self.observations.append(
                Observation(
                    iri,
                    row["feature"].value,
                    row["property"].value,
                    row.get("value"),
                    _value(row, "result"),
                    _value(row, "min"),
                    _value(row, "max"),
                    _value(row, "amount"),
                    _value(row, "currency"),
                    _value(row, "qualifier"),
                    _value(row, "start"),
                    _value(row, "end") or _value(row, "instant"),
                )
            )

    def _read_sources(self) -> None:
        for row in self._rows("sources"):
            quote = row.get("quote")
            ref = SourceRef(
                row["source"].value,
                quote.value if quote is not None else None,
                quote.lang if quote is not None else None,
                _value(row, "page"),
            )
            refs = self.sources.setdefault(row["resource"].value, [])
            if ref not in refs:
                refs.append(ref)

    def _read_identifiers(self) -> None:
        for row in self._rows("identifiers"):
            self.identifiers.setdefault(row["resource"].value, []).append(
                Identifier(
                    row["target"].value,
                    _value(row, "register"),
                    _value(row, "predicate"),
                    row["confidence"].value,
                    row["candidate"].value == "true",
                )
            )

    def _derive_names(self) -> None:
        """Name the claim nodes that have no label: memberships and observations."""
        for m in self.memberships:
            if m.iri in self.names:
                continue
            self.derived[m.iri] = {
                lang: f"{self.name(m.member, lang)}: "
                + (self.name(m.role, lang) if m.role else translate("member", lang))
                + f" ({self.name(m.organization, lang)})"
                for lang in LANGUAGES
            }
        for o in self.observations:
            if o.iri in self.names:
                continue
            self.derived[o.iri] = {
                lang: f"{self.name(o.property, lang)}: {self.observation_value(o, lang)}"
                + (f" ({o.end})" if o.end else "")
                + f" — {self.name(o.feature, lang)}"
                for lang in LANGUAGES
            }

    # --- reading --------------------------------------------------------------------------------

    def label(self, iri: str, lang: str) -> str | None:
        """The name of ``iri`` in ``lang``, else in the other language, else without one."""
        for names in (self.names.get(iri), self.derived.get(iri)):
            if names:
                return pick(names, lang)
        return None

    def name(self, iri: str, lang: str) -> str:
        """The name of ``iri`` for people: its label, else a prefixed name or the IRI itself."""
        return self.label(iri, lang) or curie(iri)

    def text(self, iri: str, lang: str) -> str | None:
        """The definition or description of ``iri`` in ``lang`` (or the other language)."""
        texts = self.texts.get(iri)
        if not texts:
            return None
        return pick({k: v[0] for k, v in texts.items()}, lang)

    def localize(self, english: str, lang: str) -> str:
        """Translate an English name (as the stored queries answer) into ``lang``, when it is the
        English name of one of our things; else leave it as it is."""
        if lang == "en":
            return english
        if not self._by_english:
            for thing, names in self.names.items():
                if "en" in names:
                    self._by_english.setdefault(names["en"], thing)
        found = self._by_english.get(english)
        return self.name(found, lang) if found else english

    def group_of(self, predicate: str) -> str:
        return self.groups.get(predicate, OTHER_GROUP)

    def members_of(self, organization: str) -> list[Membership]:
        return [m for m in self.memberships if m.organization == organization]

    def memberships_of(self, member: str) -> list[Membership]:
        return [m for m in self.memberships if m.member == member]

    def observations_of(self, feature: str) -> list[Observation]:
        return [o for o in self.observations if o.feature == feature]

    def observation_value(self, o: Observation, lang: str) -> str:
        """An observation's value as text: '180', '57 %', '5–7', '69 500 NOK', a concept's name."""
        ratio = self.value_types.get(o.property) == VALUE_TYPE + "ratio"
        if o.value is not None:
            return self.literal(o.value, lang, ratio=ratio)
        if o.amount is not None:
            return _number(o.amount, lang) + (f" {o.currency}" if o.currency else "")
        if o.minimum is not None or o.maximum is not None:
            low = _number(o.minimum, lang) if o.minimum else ""
            high = _number(o.maximum, lang) if o.maximum else ""
            if low and high:
                return f"{low}–{high}"
            return f"≥ {low}" if low else f"≤ {high}"
        if o.result is not None:
            return self.name(o.result, lang)
        return translate("no.figure", lang)

    def literal(self, term: Term, lang: str, ratio: bool = False) -> str:
        """A literal as text for readers of ``lang`` (numbers, ratios, booleans)."""
        if term.datatype in _NUMERIC:
            try:
                number = float(term.value)
            except ValueError:
                return term.value
            return format_percent(number, lang) if ratio else _number(term.value, lang)
        if term.datatype == XSD + "boolean":
            return translate("yes" if term.value in ("true", "1") else "no", lang)
        return term.value

    def search(self, words: Iterable[str], lang: str, limit: int = 8) -> list[tuple[str, str]]:
        """Our resources whose name or IRI contains the most of ``words`` (for the 404 page)."""
        wanted = [w.lower() for w in words if len(w) > 1]
        if not wanted:
            return []
        scored: list[tuple[int, str, str]] = []
        for iri in set(self.names) | set(self.derived):
            if not iri.startswith(ID):
                continue
            name = self.name(iri, lang)
            haystack = (name + " " + iri[len(ID) :]).lower()
            score = sum(1 for w in wanted if w in haystack)
            if score:
                scored.append((-score, name.lower(), iri))
        scored.sort()
        return [(iri, self.name(iri, lang)) for _, _, iri in scored[:limit]]


def pick(texts: Localized, lang: str) -> str:
    """The text in ``lang``, else English or Bokmål, else without a language, else any.

    >>> pick({"en": "member", "nb": "medlem"}, "nb"), pick({"": "0403"}, "en")
    ('medlem', '0403')
    """
    for key in (lang, *LANGUAGES, ""):
        if key in texts:
            return texts[key]
    return next(iter(texts.values()))


def curie(iri: str) -> str:
    """A prefixed name for ``iri`` when one of our prefixes fits, else the IRI.

    >>> curie("https://w3id.org/bolyst/id/programme/kom-trainee")
    'prog:kom-trainee'
    >>> curie("https://w3id.org/bolyst/ontology")
    'bolyst:'
    """
    if iri == ONTOLOGY_DOC:
        return "bolyst:"
    best = ""
    for prefix, namespace in PREFIXES.items():
        if iri.startswith(namespace) and len(namespace) > len(PREFIXES.get(best, "")):
            local = iri[len(namespace) :]
            if re.fullmatch(r"[A-Za-z0-9_.\-]*", local):
                best = prefix
    if best:
        return f"{best}:{iri[len(PREFIXES[best]) :]}"
    return iri


def is_ours(iri: str) -> bool:
    """Whether ``iri`` is one of ours, answered by this site (``/id/...`` or the ontology)."""
    return iri.startswith(ID) or iri.startswith(ONTOLOGY) or iri == ONTOLOGY_DOC


def _value(row: dict[str, Term], key: str) -> str | None:
    term = row.get(key)
    return term.value if term is not None else None


def _number(lexical: str, lang: str) -> str:
    try:
        number = float(lexical)
    except ValueError:
        return lexical
    return format_number(number, lang)
