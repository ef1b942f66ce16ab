"""Accessible inline SVG charts for the console: no JavaScript, no external assets.

Each chart is `role="img"` labelled by its `<title>` and `<desc>`; the `<desc>` states every
value in words, so screen readers get the data, not the drawing. Colours are presentation
attributes (not `style=`), so a strict Content-Security-Policy allows them and CSS can override
them through the class names (`chart`, `chart-bar`, `chart-other`, `meter-fill`, …).
All text is XML-escaped: labels come from the database.
"""

from __future__ import annotations

import itertools
import math
import re

from markupsafe import Markup, escape

EMPTY_TEXT = "No data for this period"
OTHER_LABEL = "Other"
NONE_TEXT = "—"

WIDTH = 560
LABEL_WIDTH = 180
VALUE_WIDTH = 80
ROW_HEIGHT = 26
BAR_HEIGHT = 18
TITLE_HEIGHT = 28
MAX_LABEL_CHARS = 26

TEXT_COLOUR = "#1a1a1a"  # on white: 17:1
BAR_COLOUR = "#1f5fa8"  # on white: 6.5:1
OTHER_COLOUR = "#5f6368"  # on white: 6.1:1
TRACK_COLOUR = "#e8eaed"
FONT = 'font-family="system-ui, sans-serif" font-size="13"'

# Characters XML 1.0 does not allow (the database may hold them; browsers would choke).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ids = itertools.count(1)


def bar_chart(
    title: str, items: list[tuple[str, float]], *, unit: str = "", max_bars: int = 12
) -> Markup:
    """A horizontal bar chart of (label, value) pairs, bar widths scaled to the largest value.

    Items are drawn in the order given. With more than `max_bars` items, the largest
    `max_bars - 1` are kept (in their order) and the rest are summed into a last "Other" bar.
    `unit` is appended to each value as is (e.g. "%" or " min").
    """
    if max_bars < 1:
        raise ValueError("max_bars must be at least 1")
    chart_id = f"chart-{next(_ids)}"
    if not items:
        return _empty(chart_id, title)
    rows = _fold(items, max_bars)
    largest = max((v for _, v, _ in rows if _finite(v)), default=0.0)
    bar_area = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    height = TITLE_HEIGHT + ROW_HEIGHT * len(rows) + 4
    desc = "; ".join(f"{label}: {_number(value, unit)}" for label, value, _ in rows)
    parts = [
        _open_svg(chart_id, "chart chart-bars", height),
        _title_and_desc(chart_id, title, desc),
        _visible_title(title),
    ]
    for index, (label, value, is_other) in enumerate(rows):
        top = TITLE_HEIGHT + index * ROW_HEIGHT
        middle = top + BAR_HEIGHT / 2
        width = bar_area * value / largest if largest > 0 and _finite(value) and value > 0 else 0
        shown = label if len(label) <= MAX_LABEL_CHARS else label[: MAX_LABEL_CHARS - 1] + "…"
        text_value = _number(value, unit)
        bar_class = "chart-bar chart-other" if is_other else "chart-bar"
        parts.append(
            Markup(
                '<g class="chart-row"><title>{full}: {value}</title>'
                '<text class="chart-label" x="{label_x}" y="{middle}" text-anchor="end"'
                ' dominant-baseline="central" fill="{text}">{shown}</text>'
                '<rect class="{bar_class}" x="{bar_x}" y="{top}" width="{width}"'
                ' height="{bar_height}" rx="2" fill="{fill}"/>'
                '<text class="chart-value" x="{value_x}" y="{middle}"'
                ' dominant-baseline="central" fill="{text}">{value}</text></g>'
            ).format(
                full=_clean(label),
                value=_clean(text_value),
                shown=_clean(shown),
                label_x=LABEL_WIDTH - 8,
                bar_x=LABEL_WIDTH,
                value_x=_fmt(LABEL_WIDTH + width + 6),
                top=top,
                middle=_fmt(middle),
                width=_fmt(width),
                bar_height=BAR_HEIGHT,
                bar_class=bar_class,
                fill=OTHER_COLOUR if is_other else BAR_COLOUR,
                text=TEXT_COLOUR,
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def percent_bar(label: str, fraction: float | None) -> Markup:
    """A single 0–100% meter bar (clamped), showing "—" when `fraction` is None."""
    chart_id = f"chart-{next(_ids)}"
    known = fraction is not None and _finite(fraction)
    share = min(max(fraction, 0.0), 1.0) if known and fraction is not None else 0.0
    shown = f"{share * 100:.0f}%" if known else NONE_TEXT
    summary = f"{label}: {shown}" if known else f"{label}: no data"
    track_width = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    height = BAR_HEIGHT + 8
    middle = height / 2
    return Markup(
        '{svg}<title id="{id}-title">{summary}</title><desc id="{id}-desc">{summary}</desc>'
        '<text class="meter-label" x="{label_x}" y="{middle}" text-anchor="end"'
        ' dominant-baseline="central" fill="{text}">{label}</text>'
        '<rect class="meter-track" x="{bar_x}" y="4" width="{track}" height="{bar_height}"'
        ' rx="2" fill="{track_fill}"/>'
        '<rect class="meter-fill" x="{bar_x}" y="4" width="{fill_width}" height="{bar_height}"'
        ' rx="2" fill="{fill}"/>'
        '<text class="meter-value" x="{value_x}" y="{middle}" dominant-baseline="central"'
        ' fill="{text}">{shown}</text></svg>'
    ).format(
        svg=_open_svg(chart_id, "chart meter", height),
        id=chart_id,
        summary=_clean(summary),
        label=_clean(label),
        shown=shown,
        label_x=LABEL_WIDTH - 8,
        middle=_fmt(middle),
        bar_x=LABEL_WIDTH,
        track=track_width,
        fill_width=_fmt(track_width * share),
        bar_height=BAR_HEIGHT,
        value_x=LABEL_WIDTH + track_width + 6,
        track_fill=TRACK_COLOUR,
        fill=BAR_COLOUR,
        text=TEXT_COLOUR,
    )


def _fold(items: list[tuple[str, float]], max_bars: int) -> list[tuple[str, float, bool]]:
    """(label, value, is_other) rows: at most `max_bars`, the smallest folded into "Other"."""
    if len(items) <= max_bars:
        return [(str(label), value, False) for label, value in items]
    by_size = sorted(
        range(len(items)), key=lambda i: -items[i][1] if _finite(items[i][1]) else math.inf
    )
    keep = set(by_size[: max_bars - 1])
    rows = [(str(label), value, False) for i, (label, value) in enumerate(items) if i in keep]
    rest = sum(value for i, (_, value) in enumerate(items) if i not in keep and _finite(value))
    rows.append((OTHER_LABEL, rest, True))
    return rows


def _open_svg(chart_id: str, css_class: str, height: float) -> Markup:
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="{cls}" role="img"'
        ' aria-labelledby="{id}-title" aria-describedby="{id}-desc"'
        ' width="{w}" height="{h}" viewBox="0 0 {w} {h}" {font}>'
    ).format(cls=css_class, id=chart_id, w=WIDTH, h=height, font=Markup(FONT))


def _title_and_desc(chart_id: str, title: str, desc: str) -> Markup:
    return Markup(
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>'
    ).format(id=chart_id, title=_clean(title), desc=_clean(desc))


def _visible_title(title: str) -> Markup:
    return Markup(
        '<text class="chart-title" x="0" y="16" font-weight="600" fill="{text}">{title}</text>'
    ).format(text=TEXT_COLOUR, title=_clean(title))


def _empty(chart_id: str, title: str) -> Markup:
    height = TITLE_HEIGHT + ROW_HEIGHT
    return Markup("").join(
        [
            _open_svg(chart_id, "chart chart-bars chart-empty", height),
            _title_and_desc(chart_id, title, EMPTY_TEXT),
            _visible_title(title),
            Markup(
                '<text class="chart-empty-text" x="0" y="{y}" dominant-baseline="central"'
                ' fill="{text}">{empty}</text></svg>'
            ).format(y=_fmt(TITLE_HEIGHT + BAR_HEIGHT / 2), text=TEXT_COLOUR, empty=EMPTY_TEXT),
        ]
    )


def _clean(text: str) -> Markup:
    """Escape for XML text and attributes, dropping characters XML cannot hold."""
    return escape(_NOT_XML.sub("", str(text)))


def _finite(value: float) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _number(value: float, unit: str) -> str:
    if not _finite(value):
        return NONE_TEXT
    if float(value).is_integer():
        return f"{int(value):,}{unit}"
    return f"{value:,.1f}{unit}"


def _fmt(number: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros."""
    return f"{number:.2f}".rstrip("0").rstrip(".")
