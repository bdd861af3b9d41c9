"""The hand-made SVG charts: well-formed, scaled to the data, escaped, empty for no data."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from dashboards import charts

NS = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(str(svg).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def test_line_chart_points_follow_the_values():
    svg = parse(charts.line_chart(["a", "b", "c"], [("Score", [0, 50, 100])], y_min=0, y_max=100))
    ys = [float(c.get("cy")) for c in svg.iter(f"{NS}circle")]
    assert ys[0] > ys[1] > ys[2]  # higher values are drawn higher up
    assert abs((ys[0] - ys[1]) - (ys[1] - ys[2])) < 0.2  # linear scale


def test_line_chart_leaves_gaps_for_missing_values_and_draws_zero_line():
    svg = parse(charts.line_chart(["a", "b", "c", "d"], [("s", [0.5, None, -0.2, 0.1])], y_min=-1, y_max=1,
                                  zero_line=True, area=False))
    lines = [p for p in svg.iter(f"{NS}path") if "line" in p.get("class")]
    assert len(lines) == 2  # the None splits the line in two segments
    assert any("zero" in (ln.get("class") or "") for ln in svg.iter(f"{NS}line"))


def test_bar_chart_heights_are_proportional_and_labels_escaped():
    svg = parse(charts.bar_chart(["<b>Q1</b>", "Q2"], [("Won", [100.0, 300.0])]))
    heights = [float(r.get("height")) for r in svg.iter(f"{NS}rect")]
    assert abs(heights[1] / heights[0] - 3) < 0.05
    assert "&lt;b&gt;" in charts.bar_chart(["<b>Q1</b>"], [("Won", [1.0])])


def test_long_bar_labels_wrap_onto_two_lines():
    svg = parse(charts.bar_chart(["Customer Stories (paid social)", "Q2"], [("x", [1.0, 2.0])], width=300))
    first = next(t for t in svg.iter(f"{NS}text") if list(t.iter(f"{NS}tspan")))
    assert len(list(first.iter(f"{NS}tspan"))) == 2


def test_empty_data_gives_no_chart():
    assert charts.line_chart([], []) == ""
    assert charts.bar_chart(["a"], [("s", [])]) == ""
    assert charts.hbar_chart([]) == ""
