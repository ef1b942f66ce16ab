import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from bot.console import charts
from bot.console.charts import EMPTY_TEXT, bar_chart, percent_bar

NS = {"svg": "http://www.w3.org/2000/svg"}
BAR_AREA = charts.WIDTH - charts.LABEL_WIDTH - charts.VALUE_WIDTH


def parse(markup: Markup) -> ET.Element:
    """The chart as XML (fails on anything a strict parser rejects)."""
    return ET.fromstring(str(markup))


def rows(svg: ET.Element) -> list[tuple[str, float, str]]:
    """(label, bar width, value text) per bar."""
    found = []
    for row in svg.iterfind("svg:g", NS):
        label = row.find("svg:text[@class='chart-label']", NS).text
        width = float(row.find("svg:rect", NS).get("width"))
        value = row.find("svg:text[@class='chart-value']", NS).text
        found.append((label, width, value))
    return found


def test_labels_are_escaped_and_the_output_is_valid_xml():
    hostile = "<script>alert(1)</script>"
    markup = bar_chart('Cases & "more" <b>', [(hostile, 3), ("O'Brien St & 5th", 1)])
    assert isinstance(markup, Markup)
    assert "<script" not in markup and "<b>" not in markup
    svg = parse(markup)
    assert svg.find("svg:title", NS).text == 'Cases & "more" <b>'
    assert [label for label, _, _ in rows(svg)] == [hostile, "O'Brien St & 5th"]
    assert svg.find("svg:script", NS) is None
    assert not list(svg.iter("{http://www.w3.org/2000/svg}script"))


def test_characters_xml_cannot_hold_are_dropped():
    svg = parse(bar_chart("Odd\x00title", [("bell\x07 and \x1b escape", 1)]))
    assert svg.find("svg:title", NS).text == "Oddtitle"
    assert rows(svg)[0][0] == "bell and  escape"


def test_chart_is_an_accessible_image_with_the_data_in_words():
    svg = parse(bar_chart("Cases by channel", [("web", 4), ("sms", 2)]))
    assert svg.get("role") == "img"
    title_id, desc_id = svg.get("aria-labelledby"), svg.get("aria-describedby")
    assert svg.find(f"svg:title[@id='{title_id}']", NS).text == "Cases by channel"
    assert svg.find(f"svg:desc[@id='{desc_id}']", NS).text == "web: 4; sms: 2"
    # each bar also has its own tooltip
    assert [g.find("svg:title", NS).text for g in svg.iterfind("svg:g", NS)] == [
        "web: 4",
        "sms: 2",
    ]


def test_every_chart_gets_its_own_ids():
    first = parse(bar_chart("A", [("x", 1)]))
    second = parse(percent_bar("B", 0.5))
    assert first.get("aria-labelledby") != second.get("aria-labelledby")


def test_bars_are_scaled_to_the_largest_value():
    svg = parse(bar_chart("Waits", [("a", 10), ("b", 5), ("c", 2.5), ("d", 0)], unit=" min"))
    assert rows(svg) == [
        ("a", BAR_AREA, "10 min"),
        ("b", BAR_AREA / 2, "5 min"),
        ("c", BAR_AREA / 4, "2.5 min"),
        ("d", 0.0, "0 min"),
    ]


def test_all_zero_values_draw_empty_bars_not_an_error():
    assert [width for _, width, _ in rows(parse(bar_chart("Z", [("a", 0), ("b", 0)])))] == [0, 0]


def test_long_labels_are_shortened_but_kept_whole_in_the_description():
    label = "A very long category name that goes on and on"
    svg = parse(bar_chart("Long", [(label, 1)]))
    shown = rows(svg)[0][0]
    assert shown.endswith("…") and len(shown) == charts.MAX_LABEL_CHARS
    assert svg.find("svg:desc", NS).text == f"{label}: 1"


def test_items_beyond_max_bars_fold_into_other():
    items = [(f"cat{n}", float(n)) for n in range(1, 11)]  # smallest first
    svg = parse(bar_chart("Many", items, max_bars=4))
    drawn = rows(svg)
    # the three largest, in the order given, then the rest summed
    assert [(label, value) for label, _, value in drawn] == [
        ("cat8", "8"),
        ("cat9", "9"),
        ("cat10", "10"),
        ("Other", str(sum(range(1, 8)))),
    ]
    assert drawn[-1][1] == BAR_AREA  # "Other" (28) is now the largest
    other = svg.findall("svg:g", NS)[-1].find("svg:rect", NS)
    assert "chart-other" in other.get("class")


def test_exactly_max_bars_items_are_not_folded():
    items = [(f"c{n}", 1) for n in range(12)]
    drawn = rows(parse(bar_chart("Twelve", items)))
    assert len(drawn) == 12 and "Other" not in [label for label, _, _ in drawn]
    assert len(rows(parse(bar_chart("Thirteen", [*items, ("c12", 1)])))) == 12


def test_max_bars_must_be_positive():
    with pytest.raises(ValueError):
        bar_chart("x", [("a", 1)], max_bars=0)


def test_empty_state():
    markup = bar_chart("Cases by status", [])
    svg = parse(markup)
    assert EMPTY_TEXT in markup
    assert svg.get("role") == "img"
    assert svg.find("svg:desc", NS).text == EMPTY_TEXT
    assert svg.find("svg:rect", NS) is None
    assert "chart-empty" in svg.get("class")


@pytest.mark.parametrize(
    "fraction, shown, share",
    [(0.5, "50%", 0.5), (0.623, "62%", 0.623), (0.0, "0%", 0.0), (1.7, "100%", 1.0), (-1, "0%", 0)],
)
def test_percent_bar(fraction, shown, share):
    svg = parse(percent_bar("Containment", fraction))
    assert svg.get("role") == "img"
    assert svg.find("svg:title", NS).text == f"Containment: {shown}"
    assert svg.find("svg:text[@class='meter-value']", NS).text == shown
    track = float(svg.find("svg:rect[@class='meter-track']", NS).get("width"))
    fill = float(svg.find("svg:rect[@class='meter-fill']", NS).get("width"))
    assert fill == pytest.approx(track * share, abs=0.01)


def test_percent_bar_without_data_shows_a_dash_and_escapes_its_label():
    markup = percent_bar("<i>CSAT</i> & co", None)
    assert "<i>" not in markup
    svg = parse(markup)
    assert svg.find("svg:text[@class='meter-label']", NS).text == "<i>CSAT</i> & co"
    assert svg.find("svg:text[@class='meter-value']", NS).text == "—"
    assert float(svg.find("svg:rect[@class='meter-fill']", NS).get("width")) == 0


def test_no_scripts_styles_or_external_references():
    namespace = 'xmlns="http://www.w3.org/2000/svg"'
    for markup in (bar_chart("T", [("a", 1)]), bar_chart("T", []), percent_bar("P", 0.3)):
        lowered = markup.lower().replace(namespace, "")
        for banned in ("<script", "href", "url(", "style=", "http:", "https:"):
            assert banned not in lowered
