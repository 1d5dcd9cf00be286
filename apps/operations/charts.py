"""Small server-side SVG charts: no JavaScript, no inline styles (the CSP forbids both).

Each builder returns a `SafeString` of one `<svg>` element to drop into a template. Every
piece of text is escaped here. Colours come from CSS classes (static/css/dashboard.css,
which follows the admin's light/dark theme); the presentation attributes (`fill`,
`stroke`) are only a fallback for a page without that stylesheet. The SVG scales to its
container's width through its viewBox; hovering a bar or a day shows its `<title>`.
"""

import math
from collections.abc import Callable, Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify

Formatter = Callable[[float], str]

WIDTH = 720
HEIGHT = 280
MARGIN_LEFT = 64
MARGIN_RIGHT = 16
MARGIN_TOP = 16
MARGIN_BOTTOM = 44
FALLBACK_FILL = "#417690"
FALLBACK_NEGATIVE = "#ba2121"
FALLBACK_MUTED = "#999999"


def _num(value: float) -> str:
    """Coordinates: short, stable text (no `1e-05`, no `12.000000001`)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def plain_number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def compact_number(value: float) -> str:
    """Axis labels: 1,200 -> 1.2k, 3,000,000 -> 3M."""
    magnitude = abs(value)
    for limit, suffix in ((1_000_000_000, "bn"), (1_000_000, "M"), (1_000, "k")):
        if magnitude >= limit:
            return f"{value / limit:,.1f}".replace(".0", "") + suffix
    return plain_number(value)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high], always including 0 (steps of 1, 2, 2.5, 5
    times a power of ten)."""
    low, high = min(low, 0), max(high, 0)
    if high == low:
        high = low + 1
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(power * m for m in (1, 2, 2.5, 5, 10) if power * m >= raw)
    if step < 1 and float(high).is_integer() and float(low).is_integer():
        step = 1  # whole things (bookings, people) get whole ticks
    first = math.floor(low / step) * step
    last = math.ceil(high / step) * step
    ticks = []
    value = first
    while value <= last + step / 2:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _open(chart_id: str, kind: str, title: str, description: str, width: int, height: int):
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart--{kind}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'preserveAspectRatio="xMidYMid meet">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]


class _Frame:
    """The plot area and its y scale, with gridlines and y-axis labels."""

    def __init__(self, values: Sequence[float], *, width: int, height: int):
        self.left, self.right = MARGIN_LEFT, width - MARGIN_RIGHT
        self.top, self.bottom = MARGIN_TOP, height - MARGIN_BOTTOM
        self.ticks = nice_ticks(min(values, default=0), max(values, default=0))
        self.low, self.high = self.ticks[0], self.ticks[-1]

    def y(self, value: float) -> float:
        span = (self.high - self.low) or 1
        return self.bottom - (value - self.low) / span * (self.bottom - self.top)

    def grid(self, axis_format: Formatter) -> list[str]:
        parts = ['<g class="chart-grid">']
        for tick in self.ticks:
            y = _num(self.y(tick))
            css = "chart-gridline is-zero" if tick == 0 else "chart-gridline"
            parts.append(
                f'<line class="{css}" x1="{self.left}" x2="{self.right}" y1="{y}" y2="{y}" '
                f'stroke="{FALLBACK_MUTED}" stroke-width="1"/>'
            )
            parts.append(
                f'<text class="chart-ylabel" x="{self.left - 8}" y="{y}" text-anchor="end" '
                f'dominant-baseline="middle" font-size="12" fill="{FALLBACK_MUTED}">'
                f"{escape(axis_format(tick))}</text>"
            )
        parts.append("</g>")
        return parts

    def x_labels(self, labels: Sequence[tuple[float, str]]) -> list[str]:
        parts = ['<g class="chart-xlabels">']
        for x, text in labels:
            parts.append(
                f'<text class="chart-xlabel" x="{_num(x)}" y="{self.bottom + 20}" '
                f'text-anchor="middle" font-size="12" fill="{FALLBACK_MUTED}">'
                f"{escape(text)}</text>"
            )
        parts.append("</g>")
        return parts


def _labels_every(count: int, label_every: int | None) -> int:
    return label_every or max(1, math.ceil(count / 12))


def bar_chart(
    points: Sequence[tuple[str, float]],
    *,
    title: str,
    chart_id: str | None = None,
    value_format: Formatter = plain_number,
    axis_format: Formatter = compact_number,
    label_every: int | None = None,
    hints: Sequence[str] | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> SafeString:
    """Vertical bars from zero, one per (label, value); negative values hang below the
    zero line in a warning colour. `hints`: longer labels for the hover titles."""
    chart_id = chart_id or slugify(title) or "chart"
    values = [value for _, value in points]
    frame = _Frame(values, width=width, height=height)
    description = "; ".join(f"{label}: {value_format(value)}" for label, value in points)
    parts = _open(chart_id, "bar", title, description, width, height)
    parts += frame.grid(axis_format)
    slot = (frame.right - frame.left) / max(len(points), 1)
    bar = max(slot * 0.72, 1)
    zero = frame.y(0)
    every = _labels_every(len(points), label_every)
    parts.append('<g class="chart-bars">')
    labels = []
    for index, (label, value) in enumerate(points):
        x = frame.left + index * slot + (slot - bar) / 2
        top, bottom = sorted((frame.y(value), zero))
        negative = value < 0
        css = "chart-bar is-negative" if negative else "chart-bar"
        fill = FALLBACK_NEGATIVE if negative else FALLBACK_FILL
        parts.append(
            f'<rect class="{css}" x="{_num(x)}" y="{_num(top)}" width="{_num(bar)}" '
            f'height="{_num(max(bottom - top, 0))}" fill="{fill}" rx="2">'
            f"<title>{escape(hints[index] if hints else label)}: "
            f"{escape(value_format(value))}</title></rect>"
        )
        if index % every == 0:
            labels.append((x + bar / 2, label))
    parts.append("</g>")
    parts += frame.x_labels(labels)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above went through escape()


def line_chart(
    points: Sequence[tuple[str, float]],
    *,
    title: str,
    chart_id: str | None = None,
    value_format: Formatter = plain_number,
    axis_format: Formatter = compact_number,
    label_every: int | None = None,
    hints: Sequence[str] | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> SafeString:
    """A line with a soft area under it; each point has an invisible full-height band
    whose `<title>` shows the value on hover."""
    chart_id = chart_id or slugify(title) or "chart"
    values = [value for _, value in points]
    frame = _Frame(values, width=width, height=height)
    total = sum(values)
    description = (
        f"{len(points)} points from {points[0][0]} to {points[-1][0]}, "
        f"total {value_format(total)}, highest {value_format(max(values))}."
        if points
        else "No data."
    )
    parts = _open(chart_id, "line", title, description, width, height)
    parts += frame.grid(axis_format)
    step = (frame.right - frame.left) / max(len(points) - 1, 1)
    coords = [(frame.left + index * step, frame.y(value)) for index, (_, value) in
              enumerate(points)]
    if coords:
        line = " ".join(f"{_num(x)},{_num(y)}" for x, y in coords)
        zero = _num(frame.y(0))
        area = (f"M{_num(coords[0][0])},{zero} L" + " L".join(
            f"{_num(x)},{_num(y)}" for x, y in coords) + f" L{_num(coords[-1][0])},{zero} Z")
        parts.append(f'<path class="chart-area" d="{area}" fill="{FALLBACK_FILL}" '
                     f'fill-opacity="0.15"/>')
        parts.append(f'<polyline class="chart-line" points="{line}" fill="none" '
                     f'stroke="{FALLBACK_FILL}" stroke-width="2" stroke-linejoin="round"/>')
    every = _labels_every(len(points), label_every)
    parts.append('<g class="chart-hits">')
    labels = []
    for index, ((label, value), (x, y)) in enumerate(zip(points, coords, strict=True)):
        parts.append(
            f'<g class="chart-hit"><rect class="chart-hitband" x="{_num(x - step / 2)}" '
            f'y="{frame.top}" width="{_num(step)}" height="{frame.bottom - frame.top}" '
            f'fill="transparent"/><circle class="chart-point" cx="{_num(x)}" cy="{_num(y)}" '
            f'r="3.5" fill="{FALLBACK_FILL}"/>'
            f"<title>{escape(hints[index] if hints else label)}: "
            f"{escape(value_format(value))}</title></g>"
        )
        if index % every == 0:
            labels.append((x, label))
    parts.append("</g>")
    parts += frame.x_labels(labels)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above went through escape()


def ring(fraction: float | None, *, title: str, chart_id: str | None = None) -> SafeString:
    """A donut showing a share (0..1) with the percentage in the middle; `None` (nothing
    to measure yet) draws an empty ring with a dash."""
    chart_id = chart_id or slugify(title) or "ring"
    radius, stroke = 40, 12
    circumference = 2 * math.pi * radius
    shown = "–" if fraction is None else f"{fraction * 100:.0f}%"
    description = "No data yet." if fraction is None else f"{fraction * 100:.1f}%"
    parts = _open(chart_id, "ring", title, description, 100, 100)
    parts.append(
        f'<circle class="ring-track" cx="50" cy="50" r="{radius}" fill="none" '
        f'stroke="#e5e5e5" stroke-width="{stroke}"/>'
    )
    if fraction:
        filled = min(max(fraction, 0), 1) * circumference
        parts.append(
            f'<circle class="ring-value" cx="50" cy="50" r="{radius}" fill="none" '
            f'stroke="{FALLBACK_FILL}" stroke-width="{stroke}" stroke-linecap="butt" '
            f'stroke-dasharray="{_num(filled)} {_num(circumference)}" '
            f'transform="rotate(-90 50 50)"/>'
        )
    parts.append(
        f'<text class="ring-label" x="50" y="50" text-anchor="middle" '
        f'dominant-baseline="central" font-size="20" font-weight="600">{escape(shown)}</text>'
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above went through escape()


def meter(fraction: float | None, *, label: str) -> SafeString:
    """A thin horizontal bar for a share (0..1), for table rows. Over 90% is marked full."""
    value = min(max(fraction or 0, 0), 1)
    css = "meter-value is-full" if value >= 0.9 else "meter-value"
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" class="meter" viewBox="0 0 100 8" '
        'preserveAspectRatio="none" role="img">',
        f"<title>{escape(label)}</title>",
        '<rect class="meter-track" x="0" y="0" width="100" height="8" rx="4" fill="#e5e5e5"/>',
    ]
    if value:
        parts.append(f'<rect class="{css}" x="0" y="0" width="{_num(value * 100)}" height="8" '
                     f'rx="4" fill="{FALLBACK_FILL}"/>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above went through escape()
