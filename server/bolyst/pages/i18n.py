"""The two languages of the pages (Norwegian Bokmål and English) and the words of the interface.

The reader's language comes from ``?lang=``, then the ``lang`` cookie (set when the switch is
used), then ``Accept-Language``; English when none of these names nb or en.
"""

from __future__ import annotations

from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

LANGUAGES = ("en", "nb")
DEFAULT = "en"
# Norwegian in general (no), Nynorsk (nn) and Bokmål (nb): the data has Bokmål.
_ALIASES = {"nb": "nb", "no": "nb", "nn": "nb", "en": "en"}
NAMES = {"en": "English", "nb": "norsk bokmål"}


def choose_language(param: str | None, cookie: str | None, accept_language: str | None) -> str:
    """Pick the page language.

    >>> choose_language(None, None, "nn-NO,nn;q=0.9,en;q=0.5")
    'nb'
    >>> choose_language(None, "en", "nb")
    'en'
    >>> choose_language("nb", "en", None)
    'nb'
    >>> choose_language("xx", None, "de, fr")
    'en'
    """
    for given in (param, cookie):
        if given in LANGUAGES:
            return given
    if accept_language:
        ranked = parse_accept_header(accept_language, LanguageAccept)
        for value, quality in sorted(ranked, key=lambda item: -item[1]):
            primary = value.split("-", 1)[0].split("_", 1)[0].lower()
            if quality > 0 and primary in _ALIASES:
                return _ALIASES[primary]
    return DEFAULT


def other(lang: str) -> str:
    return "nb" if lang == "en" else "en"


# The words of the interface. Longer texts live in the templates, one block per language.
WORDS: dict[str, tuple[str, str]] = {  # key: (en, nb)
    "site.tagline": ("Norway's regional trainee programmes", "Regionale traineeprogram i Norge"),
    "nav.label": ("Site", "Nettstedet"),
    "nav.home": ("Home", "Forside"),
    "nav.query": ("Query", "Spørring"),
    "nav.queries": ("Stored queries", "Lagrede spørringer"),
    "nav.ontology": ("Ontology", "Ontologi"),
    "nav.dumps": ("Downloads", "Nedlasting"),
    "nav.dataset": ("Catalogue record", "Katalogpost"),
    "skip": ("Skip to content", "Hopp til innholdet"),
    "switch.label": ("Language", "Språk"),
    "switch.to": ("Norsk", "English"),
    "type": ("Type", "Type"),
    "types": ("Types", "Typer"),
    "iri": ("IRI", "IRI"),
    "download": ("Download this description", "Last ned denne beskrivelsen"),
    "query.behind": ("The query behind this page", "Spørringen bak denne siden"),
    "query.open": ("Open in the query editor", "Åpne i spørringsredigereren"),
    "incoming": ("Pointing here", "Peker hit"),
    "members": ("Members and their roles", "Medlemmer og roller"),
    "takes.part": ("Takes part in", "Deltar i"),
    "figures": ("Figures", "Tall"),
    "identifiers": ("In other registers", "I andre registre"),
    "sources": ("Where this comes from", "Hvor dette kommer fra"),
    "source": ("Source", "Kilde"),
    "quote": ("Quote", "Sitat"),
    "candidate": ("candidate (unverified)", "kandidat (ikke kontrollert)"),
    "stated": ("stated", "oppgitt"),
    "register": ("Register", "Register"),
    "confidence": ("Confidence", "Sikkerhet"),
    "role": ("Role", "Rolle"),
    "roles": ("Roles", "Roller"),
    "period": ("Period", "Periode"),
    "member": ("Member", "Medlem"),
    "programme": ("Programme", "Program"),
    "figure": ("Figure", "Tall"),
    "value": ("Value", "Verdi"),
    "time": ("Time", "Tid"),
    "property": ("Property", "Egenskap"),
    "from": ("from", "fra"),
    "until": ("until", "til"),
    "no.figure": ("no figure", "ikke oppgitt"),
    "run": ("Run", "Kjør"),
    "parameters": ("Parameters", "Parametere"),
    "rows": ("rows", "rader"),
    "answer.as": ("The same answer as", "Det samme svaret som"),
    "not.found": ("Not found", "Ikke funnet"),
    "did.you.mean": ("Did you mean", "Mente du"),
    "error": ("Error", "Feil"),
    "yes": ("yes", "ja"),
    "no": ("no", "nei"),
    "classes": ("Classes", "Klasser"),
    "properties": ("Properties", "Egenskaper"),
    "datatypes": ("Datatypes", "Datatyper"),
    "schemes": ("Concept schemes", "Begrepssystemer"),
    "concept": ("Concept", "Begrep"),
    "definition": ("Definition", "Definisjon"),
    "code": ("Code", "Kode"),
    "programmes": ("The programmes side by side", "Programmene side om side"),
    "charts": ("The figures as charts", "Tallene som diagrammer"),
    "explore": ("Explore", "Utforsk"),
    "what.query": ("What the query does", "Hva spørringen gjør"),
    "query.text": ("The query", "Spørringen"),
    "default": ("default", "standard"),
    "empty.all": ("empty for all", "tom for alle"),
}


def translate(key: str, lang: str) -> str:
    """The interface word ``key`` in ``lang`` (the key itself when there is none).

    >>> translate("nav.home", "nb")
    'Forside'
    """
    pair = WORDS.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "nb" else pair[0]


def format_number(value: float, lang: str, decimals: int | None = None) -> str:
    """Write a number the way readers of ``lang`` do.

    >>> format_number(17000, "nb"), format_number(17000, "en"), format_number(0.7, "nb")
    ('17\\xa0000', '17,000', '0,7')
    """
    if decimals is None:
        decimals = 0 if float(value).is_integer() else len(repr(float(value)).split(".")[1])
    text = f"{value:,.{decimals}f}"
    if lang == "nb":
        text = text.replace(",", "\xa0").replace(".", ",")
    return text


def format_percent(ratio: float, lang: str) -> str:
    """A ratio (0.5) as a percentage: '50 %' in Norwegian (with a space), '50%' in English.

    >>> format_percent(0.567, "en"), format_percent(0.5, "nb")
    ('57%', '50\\xa0%')
    """
    return format_number(round(ratio * 100), lang) + ("\xa0%" if lang == "nb" else "%")
