"""Hand-made SVG charts: no chart library, nothing fetched at run time, scales with its container.

Each function returns markup-safe SVG sized by viewBox; colours come from CSS classes (app.css), so
the charts follow the page's theme. Hovering a point or bar shows its value (<title>).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

from markupsafe import Markup

Fmt = Callable[[float], str]
PAD_L, PAD_R, PAD_T, PAD_B = 48, 12, 12, 26


def _nice_step(span: float, ticks: int) -> float:
    raw = span / max(ticks, 1)
    if raw <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * magnitude:
            return m * magnitude
    return 10 * magnitude


def _axis(lo: float, hi: float, ticks: int = 4) -> tuple[float, float, list[float]]:
    if hi == lo:
        hi = lo + 1
    step = _nice_step(hi - lo, ticks)
    start, end = math.floor(lo / step) * step, math.ceil(hi / step) * step
    n = round((end - start) / step)
    return start, end, [start + i * step for i in range(n + 1)]


def _short(v: float) -> str:
    a = abs(v)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= limit:
            return f"{v / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{v:.2f}".rstrip("0").rstrip(".") if a < 10 and v != int(v) else f"{v:.0f}"


def _t(x: float) -> str:
    return f"{x:.1f}"


def line_chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *,
               width: int = 640, height: int = 200, y_min: float | None = None, y_max: float | None = None,
               fmt: Fmt = _short, area: bool = True, zero_line: bool = False, label_every: int | None = None,
               css: str = "chart") -> Markup:
    """Lines over shared x labels; None values leave gaps. The first series gets a soft area fill."""
    values = [v for _, vs in series for v in vs if v is not None]
    if not labels or not values:
        return Markup("")
    lo = min(values) if y_min is None else y_min
    hi = max(values) if y_max is None else y_max
    lo, hi, ticks = _axis(min(lo, 0) if y_min is None and lo > 0 else lo, hi)
    plot_w, plot_h = width - PAD_L - PAD_R, height - PAD_T - PAD_B
    n = len(labels)

    def x(i: int) -> float:
        return PAD_L + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return PAD_T + plot_h * (1 - (v - lo) / (hi - lo))

    out = [f'<svg class="{css}" viewBox="0 0 {width} {height}" role="img">']
    for t in ticks:
        cls = "grid zero" if zero_line and t == 0 else "grid"
        out.append(f'<line class="{cls}" x1="{PAD_L}" x2="{width - PAD_R}" y1="{_t(y(t))}" y2="{_t(y(t))}"/>')
        out.append(f'<text class="tick" x="{PAD_L - 6}" y="{_t(y(t) + 4)}" text-anchor="end">{escape(fmt(t))}</text>')
    every = label_every or max(1, math.ceil(n / 8))
    for i, label in enumerate(labels):
        if i % every == 0:
            out.append(f'<text class="tick" x="{_t(x(i))}" y="{height - 8}" text-anchor="middle">'
                       f'{escape(label)}</text>')
    for k, (name, vs) in enumerate(series):
        segments, current = [], []
        for i, v in enumerate(vs):
            if v is None:
                if current:
                    segments.append(current)
                current = []
            else:
                current.append((x(i), y(v)))
        if current:
            segments.append(current)
        for seg in segments:
            path = " ".join(f"{'M' if j == 0 else 'L'}{_t(px)},{_t(py)}" for j, (px, py) in enumerate(seg))
            if area and k == 0 and len(seg) > 1:
                base = y(max(lo, 0) if lo < 0 < hi or lo >= 0 else lo)
                out.append(f'<path class="area s{k}" d="{path} L{_t(seg[-1][0])},{_t(base)} '
                           f'L{_t(seg[0][0])},{_t(base)} Z"/>')
            out.append(f'<path class="line s{k}" d="{path}"/>')
        for i, v in enumerate(vs):
            if v is not None and (n <= 40 or i == n - 1):
                out.append(f'<circle class="dot s{k}" cx="{_t(x(i))}" cy="{_t(y(v))}" r="3">'
                           f'<title>{escape(name)} · {escape(labels[i])}: {escape(fmt(v))}</title></circle>')
    out.append("</svg>")
    return Markup("".join(out))


def _wrap(label: str, chars: int, lines: int = 2) -> list[str]:
    """Split a label into at most `lines` lines of about `chars` characters, ellipsis on the last."""
    words, out, current = label.split(), [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > chars:
            out.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    out.append(current)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][: chars - 1] + "…"
    return [o if len(o) <= chars else o[: chars - 1] + "…" for o in out]


def bar_chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *, width: int = 640,
              height: int = 220, fmt: Fmt = _short, css: str = "chart") -> Markup:
    """Vertical bars, one group per label, one bar per series side by side; labels wrap onto two lines."""
    values = [v for _, vs in series for v in vs]
    if not labels or not values:
        return Markup("")
    lo, hi, ticks = _axis(0, max(max(values), 0))
    group_w = (width - PAD_L - PAD_R) / len(labels)
    chars = max(6, int(group_w / 6.4))
    wrapped = [_wrap(label, chars) for label in labels]
    label_lines = max(len(w) for w in wrapped)
    pad_b = PAD_B + 13 * (label_lines - 1)
    plot_h = height - PAD_T - pad_b
    bar_w = min(36.0, group_w * 0.7 / len(series))

    def y(v: float) -> float:
        return PAD_T + plot_h * (1 - (v - lo) / (hi - lo))

    out = [f'<svg class="{css}" viewBox="0 0 {width} {height}" role="img">']
    for t in ticks:
        out.append(f'<line class="grid" x1="{PAD_L}" x2="{width - PAD_R}" y1="{_t(y(t))}" y2="{_t(y(t))}"/>')
        out.append(f'<text class="tick" x="{PAD_L - 6}" y="{_t(y(t) + 4)}" text-anchor="end">{escape(fmt(t))}</text>')
    for i, label in enumerate(labels):
        cx = PAD_L + group_w * (i + 0.5)
        left = cx - bar_w * len(series) / 2
        for k, (name, vs) in enumerate(series):
            v = vs[i]
            top = y(max(v, 0))
            out.append(f'<rect class="bar s{k}" x="{_t(left + k * bar_w + 1)}" y="{_t(top)}" '
                       f'width="{_t(bar_w - 2)}" height="{_t(y(0) - top)}" rx="2">'
                       f'<title>{escape(name)} · {escape(label)}: {escape(fmt(v))}</title></rect>')
        spans = "".join(f'<tspan x="{_t(cx)}" dy="{0 if j == 0 else 13}">{escape(line)}</tspan>'
                        for j, line in enumerate(wrapped[i]))
        out.append(f'<text class="tick" y="{height - pad_b + 18}" text-anchor="middle">{spans}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def hbar_chart(items: Sequence[tuple[str, float]], *, width: int = 480, row: int = 28, fmt: Fmt = _short,
               css: str = "chart") -> Markup:
    """Horizontal bars with the label on the left and the value at the bar's end (ranked lists)."""
    if not items:
        return Markup("")
    label_w, value_w = 120, 64
    top = max(v for _, v in items) or 1
    height = row * len(items) + 4
    out = [f'<svg class="{css}" viewBox="0 0 {width} {height}" role="img">']
    for i, (label, v) in enumerate(items):
        y = i * row + 4
        w = (width - label_w - value_w) * max(v, 0) / top
        text = label if len(label) <= 18 else label[:17] + "…"
        out.append(f'<text class="label" x="{label_w - 8}" y="{y + row / 2 + 2}" text-anchor="end">'
                   f'{escape(text)}</text>')
        out.append(f'<rect class="bar s0" x="{label_w}" y="{y + 4}" width="{_t(max(w, 2))}" height="{row - 10}" '
                   f'rx="3"><title>{escape(label)}: {escape(fmt(v))}</title></rect>')
        out.append(f'<text class="value" x="{_t(label_w + max(w, 2) + 6)}" y="{y + row / 2 + 2}">'
                   f'{escape(fmt(v))}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def sparkline(values: Sequence[float], *, width: int = 96, height: int = 24, css: str = "spark") -> Markup:
    if len(values) < 2:
        return Markup("")
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1
    pts = " ".join(f"{_t(width * i / (len(values) - 1))},{_t(height - 2 - (height - 4) * (v - lo) / span)}"
                   for i, v in enumerate(values))
    return Markup(f'<svg class="{css}" viewBox="0 0 {width} {height}"><polyline points="{pts}"/></svg>')
