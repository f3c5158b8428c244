"""The landing page: the three programmes side by side, from the stored queries' answers.

Each row runs one stored query of ``queries/`` (the same text ``/queries/<name>`` runs, so the
page and the query pages cannot disagree) and places its rows under the programme they name.
A root without one of those queries simply shows fewer rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bolyst.pages.charts import Chart, Series, bar_chart
from bolyst.pages.i18n import format_number, format_percent, translate
from bolyst.pages.resource import href_of
from bolyst.pages.site import Site
from bolyst.queries import StoredQuery, bind
from bolyst.store.local import select

Rows = list[dict[str, str]]


@dataclass(frozen=True)
class Column:
    iri: str
    name: str
    href: str | None


@dataclass(frozen=True)
class Line:
    """One row of the comparison: its name, the stored query it comes from, a cell per column."""

    key: str
    name: str
    query: str
    cells: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Landing:
    columns: tuple[Column, ...]
    lines: tuple[Line, ...]
    charts: tuple[Chart, ...]


# (key, stored query, English and Norwegian row names)
LINES = (
    ("founded", "programmes", ("Founded", "Startet")),
    ("legal-form", "programmes", ("Legal form", "Organisasjonsform")),
    ("counties", "programmes", ("County (about 2011)", "Fylke (om lag 2011)")),
    ("members", "member-counts", ("Members", "Medlemmer")),
    ("fees", "fees", ("Membership fee", "Medlemsavgift")),
    ("staffing", "staffing", ("Staffing", "Bemanning")),
    ("trainees", "trainee-figures", ("Trainees", "Traineer")),
    ("applicants", "applicants", ("Applicants", "Søkere")),
    ("job-offer", "rates-side-by-side", ("Offered a job", "Fikk jobbtilbud")),
    ("settled", "rates-side-by-side", ("Settled after 3 years", "Bosatt etter 3 år")),
)
PER_UNIT = {"ANN": ("per year", "per år"), "MON": ("per month", "per måned")}


def build(site: Site, queries: dict[str, StoredQuery], lang: str) -> Landing:
    answers: dict[str, Rows] = {}
    for name in sorted({query_name for _, query_name, _ in LINES}):
        if name in queries:
            stored = queries[name]
            answers[name] = select(
                site.store, stored.text, default_graphs=site.graphs, bindings=bind(stored, {})
            )
    programmes = answers.get("programmes", [])
    columns = tuple(
        Column(r["programme"], r["name"], href_of(r["programme"]))
        for r in programmes
        if "programme" in r and "name" in r
    )
    names = [c.name for c in columns]
    cells_of: dict[str, Callable[[Rows], list[str]]] = {
        "founded": lambda rows: [r["founded"] for r in rows if "founded" in r],
        "legal-form": lambda rows: [
            site.localize(r["legalForm"], lang) for r in rows if "legalForm" in r
        ],
        "counties": lambda rows: [r["counties"] for r in rows if r.get("counties")],
        "members": lambda rows: [_figure(site, r, lang) for r in rows],
        "fees": lambda rows: [_fee(site, r, lang) for r in rows],
        "staffing": lambda rows: [_figure(site, r, lang) for r in rows],
        "trainees": lambda rows: [_figure(site, r, lang) for r in rows],
        "applicants": lambda rows: [_figure(site, r, lang) for r in rows],
        "job-offer": lambda rows: [
            _percent(r.get("jobOfferRate"), lang) for r in rows if r.get("jobOfferRate")
        ],
        "settled": lambda rows: [
            _percent(r.get("settledAfter3Years"), lang) for r in rows if r.get("settledAfter3Years")
        ],
    }
    lines = []
    for key, query, (en, nb) in LINES:
        if query not in answers:
            continue
        rows = answers[query]
        cells = []
        for column in columns:
            mine = [r for r in rows if _names(r) & {column.name}]
            cells.append(tuple(dict.fromkeys(cells_of[key](mine))))
        lines.append(Line(key, nb if lang == "nb" else en, query, tuple(cells)))
    charts = _charts(site, answers, names, lang)
    return Landing(columns, tuple(lines), charts)


def _names(row: dict[str, str]) -> set[str]:
    return {row[k] for k in ("name", "programmeName") if k in row}


def _period(row: dict[str, str], lang: str) -> str:
    start, end = row.get("from"), row.get("until")
    if start and end:
        return start if start == end else f"{start}–{end}"
    if end:
        return f"{translate('until', lang)} {end}"
    return start or ""


def _number(lexical: str | None, lang: str) -> str:
    if lexical is None:
        return ""
    try:
        return format_number(float(lexical), lang)
    except ValueError:
        return lexical


def _figure(site: Site, row: dict[str, str], lang: str) -> str:
    """'number of members: 16 (until 2011)', 'total number of trainees: nearly 100'."""
    figure = site.localize(row.get("figure", ""), lang)
    if row.get("value"):
        value = _number(row["value"], lang)
    elif row.get("min") and row.get("max"):
        value = f"{_number(row['min'], lang)}–{_number(row['max'], lang)}"
    else:
        value = _number(row.get("max") or row.get("min"), lang)
    if row.get("qualifier"):
        value = f"{site.localize(row['qualifier'], lang)} {value}"
    period = _period(row, lang)
    return f"{figure}: {value}" + (f" ({period})" if period else "")


def _fee(site: Site, row: dict[str, str], lang: str) -> str:
    text = f"{site.localize(row.get('kind', ''), lang)}: {_number(row.get('amount'), lang)}"
    if row.get("currency"):
        text += f" {row['currency']}"
    per = PER_UNIT.get(row.get("per", ""))
    if per:
        text += " " + (per[1] if lang == "nb" else per[0])
    if row.get("vatIncluded") == "false":
        text += " " + ("ekskl. mva." if lang == "nb" else "excl. VAT")
    if row.get("qualifiers"):
        text += (
            " (" + ", ".join(site.localize(q, lang) for q in row["qualifiers"].split(", ")) + ")"
        )
    return text


def _percent(lexical: str | None, lang: str) -> str:
    return format_percent(float(lexical), lang) if lexical else ""


def _charts(site: Site, answers: dict[str, Rows], names: list[str], lang: str) -> tuple[Chart, ...]:
    nb = lang == "nb"
    none = translate("no.figure", lang)
    charts = []

    def series(label: str, values: list[float | None], texts: list[str]) -> Series:
        return Series(
            label,
            tuple(values),
            tuple(t if v is not None else none for v, t in zip(values, texts, strict=True)),
        )

    def describe(title: str, all_series: list[Series]) -> str:
        parts = []
        for i, name in enumerate(names):
            parts.append(name + ": " + ", ".join(f"{s.name} {s.texts[i]}" for s in all_series))
        return title + ". " + "; ".join(parts) + "."

    rates = answers.get("rates-side-by-side")
    if rates is not None:
        by_name = {r.get("programmeName"): r for r in rates}
        offered = [_float(by_name.get(n, {}).get("jobOfferRate")) for n in names]
        settled = [_float(by_name.get(n, {}).get("settledAfter3Years")) for n in names]
        all_series = [
            series(
                "fikk jobbtilbud" if nb else "offered a job",
                offered,
                [_percent(_str(v), lang) for v in offered],
            ),
            series(
                "bosatt etter 3 år" if nb else "settled after 3 years",
                settled,
                [_percent(_str(v), lang) for v in settled],
            ),
        ]
        title = "Jobbtilbud og bosetting" if nb else "Job offers and settlement"
        charts.append(
            bar_chart(
                "chart-rates", title, describe(title, all_series), names, all_series, maximum=1.0
            )
        )

    for chart_id, query, figure, title_en, title_nb in (
        (
            "chart-members",
            "member-counts",
            "number of members",
            "Members (latest figure)",
            "Medlemmer (siste tall)",
        ),
        (
            "chart-staffing",
            "staffing",
            "staffing (FTE)",
            "Staffing (full-time equivalents)",
            "Bemanning (årsverk)",
        ),
        (
            "chart-applicants",
            "applicants",
            "applicants",
            "Applicants in one year (latest figure)",
            "Søkere på ett år (siste tall)",
        ),
    ):
        rows = answers.get(query)
        if rows is None:
            continue
        values: list[float | None] = []
        texts: list[str] = []
        for n in names:
            mine = [
                r
                for r in rows
                if r.get("programmeName") == n and r.get("figure") == figure and r.get("value")
            ]
            mine.sort(key=lambda r: r.get("until") or r.get("from") or "")
            if mine:
                latest = mine[-1]
                values.append(float(latest["value"]))
                year = latest.get("until") or latest.get("from")
                texts.append(_number(latest["value"], lang) + (f" ({year})" if year else ""))
            else:
                values.append(None)
                texts.append(none)
        title = title_nb if nb else title_en
        all_series = [series(site.localize(figure, lang), values, texts)]
        charts.append(bar_chart(chart_id, title, describe(title, all_series), names, all_series))
    return tuple(charts)


def _float(lexical: str | None) -> float | None:
    try:
        return float(lexical) if lexical else None
    except ValueError:
        return None


def _str(value: float | None) -> str | None:
    return None if value is None else str(value)
