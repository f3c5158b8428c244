"""Horizontal bar charts as plain geometry, for the templates to draw as inline SVG.

No JavaScript and no chart library: the server computes where each bar goes, and the template
``_chart.html`` writes the ``<svg>`` with a ``<title>`` and ``<desc>`` (and a table beside it),
so the figures are readable without seeing the picture.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WIDTH = 640
LABEL_WIDTH = 170  # the programme names, left of the bars
VALUE_ROOM = 110  # the value written after the longest bar
BAR_HEIGHT = 22
BAR_GAP = 4
GROUP_GAP = 16
TOP = 12
LEGEND_HEIGHT = 28
SERIES_CLASSES = ("series-0", "series-1", "series-2")


@dataclass(frozen=True)
class Series:
    """One kind of figure: its name, a value per category (``None``: no figure) and the text to
    write for each (formatted for the reader)."""

    name: str
    values: tuple[float | None, ...]
    texts: tuple[str, ...]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    text: str
    text_x: float
    text_y: float
    series: int
    css: str
    missing: bool


@dataclass(frozen=True)
class Row:
    label: str
    label_y: float
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class LegendItem:
    name: str
    x: float
    css: str


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str
    width: int
    height: float
    rows: tuple[Row, ...]
    legend: tuple[LegendItem, ...]
    series: tuple[Series, ...]
    categories: tuple[str, ...]
    axis_x: float = LABEL_WIDTH
    extras: dict[str, str] = field(default_factory=dict)


def bar_chart(
    chart_id: str,
    title: str,
    description: str,
    categories: list[str],
    series: list[Series],
    maximum: float | None = None,
) -> Chart:
    """Lay out a grouped horizontal bar chart: one group of bars per category.

    ``maximum`` is the value of a full-width bar (1.0 for ratios); by default the largest value.

    >>> chart = bar_chart("c", "T", "D", ["A", "B"], [Series("n", (2.0, None), ("2", "none"))])
    >>> [(b.width, b.missing) for row in chart.rows for b in row.bars]
    [(360.0, False), (0.0, True)]
    """
    values = [v for s in series for v in s.values if v is not None]
    top = maximum if maximum is not None else max(values, default=0.0)
    scale = (WIDTH - LABEL_WIDTH - VALUE_ROOM) / top if top > 0 else 0.0
    legend = tuple(
        LegendItem(s.name, LABEL_WIDTH + i * 200, SERIES_CLASSES[i % len(SERIES_CLASSES)])
        for i, s in enumerate(series)
    )
    y = TOP + (LEGEND_HEIGHT if len(series) > 1 else 0)
    rows = []
    for index, category in enumerate(categories):
        bars = []
        group_top = y
        for number, s in enumerate(series):
            value = s.values[index]
            width = 0.0 if value is None else max(value * scale, 1.0 if value > 0 else 0.0)
            bars.append(
                Bar(
                    x=LABEL_WIDTH,
                    y=y,
                    width=round(width, 1),
                    height=BAR_HEIGHT,
                    text=s.texts[index],
                    text_x=round(LABEL_WIDTH + width + 6, 1),
                    text_y=y + BAR_HEIGHT / 2,
                    series=number,
                    css=SERIES_CLASSES[number % len(SERIES_CLASSES)],
                    missing=value is None,
                )
            )
            y += BAR_HEIGHT + BAR_GAP
        label_y = (group_top + y - BAR_GAP) / 2
        rows.append(Row(category, label_y, tuple(bars)))
        y += GROUP_GAP
    return Chart(
        id=chart_id,
        title=title,
        description=description,
        width=WIDTH,
        height=y - GROUP_GAP + TOP,
        rows=tuple(rows),
        legend=legend,
        series=tuple(series),
        categories=tuple(categories),
    )
