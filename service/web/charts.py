"""Charts drawn on the server as SVG (no JavaScript): bars, with an optional target line, and bars
of several series (stacked or side by side) with a legend. Each chart is an image named by its title
and description for assistive technology; the page shows its data table beside it, the accessible
alternative. Every bar carries its label and value (`data-label`, `data-value`), so that a test can
hold the drawing against its table."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from decimal import Decimal
from html import escape

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 640, 280, 72, 44, 20
BAR = "#0b3d5c"  # the brand colour, 11.4:1 on white
TARGET = "#b3261e"  # 6.4:1 on white
AXIS = "#4a4a4a"
# Series colours, each at least 4.5:1 on white and apart from its neighbours in lightness and hue.
SERIES = ("#0b3d5c", "#a05a00", "#2e7d32", "#6a1b9a")
LEGEND = 26  # the band above the plot that holds a legend

Number = Decimal | int


def _short(v: Decimal) -> str:
    """A scale's number when the caller names no way of writing it."""
    return f"{v:.0f}" if v == v.to_integral_value() else f"{v:.1f}"


def _open(title: str, desc: str, ident: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="chart" '
        f'aria-labelledby="{ident}-title" aria-describedby="{ident}-desc">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(desc)}</desc>',
    ]


def _axes(top: int, maximum: Decimal, unit: str, number: Callable[[Decimal], str]) -> tuple[list[str], float]:
    """The axes and the scale's labels of a plot from `top` down to the bottom band."""
    plot_h = HEIGHT - top - BOTTOM
    parts = [
        f'<line x1="{LEFT}" y1="{top + plot_h}" x2="{WIDTH - 8}" y2="{top + plot_h}" stroke="{AXIS}"/>',
        f'<line x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{top + plot_h}" stroke="{AXIS}"/>',
    ]
    for fraction in (Decimal(0), Decimal("0.5"), Decimal(1)):
        v = maximum * fraction
        y = top + plot_h - float(fraction) * plot_h
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="15" fill="{AXIS}">'
            f"{escape(number(v))}{escape(unit)}</text>"
        )
    return parts, plot_h


def _label(x: float, text: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle" font-size="15" '
        f'fill="{AXIS}">{escape(text)}</text>'
    )


def _bar(x: float, y: float, width: float, height: float, colour: str, label: str, value: Number) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" fill="{colour}" '
        f'stroke="#ffffff" stroke-width="1" data-label="{escape(label)}" data-value="{value}"/>'
    )


def bars(
    title: str,
    values: list[tuple[str, Decimal | None]],
    *,
    ident: str,
    desc: str = "",
    maximum: Decimal,
    unit: str = "",
    target: Decimal | None = None,
    target_label: str = "",
    number: Callable[[Decimal], str] = _short,
) -> str:
    """Vertical bars, one per (label, value) (None: no bar), on a scale from 0 to `maximum`; a dashed
    line at `target` if given. `number` writes the scale's numbers (the page's language)."""
    parts = _open(title, desc, ident)
    axes, plot_h = _axes(TOP, maximum, unit, number)
    parts += axes
    step = (WIDTH - LEFT - 8) / max(1, len(values))

    def y(v: Decimal) -> float:
        return TOP + plot_h - float(v / maximum) * plot_h if maximum else TOP + plot_h

    for n, (label, value) in enumerate(values):
        x = LEFT + n * step
        if value is not None:
            top = y(min(value, maximum))
            parts.append(_bar(x + step * 0.15, top, step * 0.7, TOP + plot_h - top, BAR, label, value))
        parts.append(_label(x + step / 2, label))
    if target is not None:
        parts.append(
            f'<line x1="{LEFT}" y1="{y(target):.1f}" x2="{WIDTH - 8}" y2="{y(target):.1f}" stroke="{TARGET}" '
            f'stroke-width="2" stroke-dasharray="6 4"/>'
            f'<text x="{WIDTH - 10}" y="{y(target) - 6:.1f}" text-anchor="end" font-size="15" fill="{TARGET}">'
            f"{escape(target_label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def series(
    title: str,
    labels: Sequence[str],
    named: Sequence[tuple[str, Sequence[Number | None]]],
    *,
    ident: str,
    desc: str = "",
    stacked: bool,
    unit: str = "",
    number: Callable[[Decimal], str] = _short,
) -> str:
    """Bars of several series over the same labels: `named` is (series name, one value per label;
    None: none; a negative value, a correction, draws nothing: the table shows it). Stacked, a label's
    bar is its series' values one on another; else side by side.
    The scale runs from 0 to a round number above the highest bar; a legend names the series."""
    top = TOP + LEGEND
    at = [[v or 0 for _, values in named for v in [values[n]]] for n in range(len(labels))]
    highest = max((sum(vs) if stacked else max(vs, default=0) for vs in at), default=0)
    maximum = nice(Decimal(highest))
    parts = _open(title, desc, ident)
    axes, plot_h = _axes(top, maximum, unit, number)
    parts += axes
    x = 8
    for colour, (name, _) in zip(SERIES, named, strict=False):
        parts.append(
            f'<rect x="{x}" y="{TOP - 4}" width="14" height="14" fill="{colour}"/>'
            f'<text x="{x + 19}" y="{TOP + 8}" font-size="14" fill="{AXIS}">{escape(name)}</text>'
        )
        x += 30 + 8 * len(name)
    step = (WIDTH - LEFT - 8) / max(1, len(labels))
    width = step * 0.7 / (1 if stacked else max(1, len(named)))
    for n, label in enumerate(labels):
        left, base = LEFT + n * step + step * 0.15, top + plot_h
        for colour, (name, values) in zip(SERIES, named, strict=False):
            value = values[n]
            if value is None:
                continue
            height = float(max(Decimal(value), Decimal(0)) / maximum) * plot_h  # a negative value: no bar
            parts.append(_bar(left, base - height, width, height, colour, f"{label} {name}", value))
            if stacked:
                base -= height
            else:
                left += width
        parts.append(_label(LEFT + n * step + step / 2, label))
    parts.append("</svg>")
    return "".join(parts)


def nice(v: Decimal) -> Decimal:
    """A round top for a scale at or above `v`, whose half is whole too: 1, 2 or 4 times a power of
    ten (2 at least)."""
    if v <= 2:
        return Decimal(2)
    power = Decimal(10) ** math.floor(math.log10(v))
    return next(m * power for m in (1, 2, 4, 10) if m * power >= v)
