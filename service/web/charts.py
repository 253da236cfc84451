"""Charts drawn on the server as SVG (no JavaScript): bars with an optional target line. Each chart
is an image with a title for assistive technology; the page shows its data table beside it."""

from __future__ import annotations

from decimal import Decimal
from html import escape

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 640, 280, 72, 44, 20
BAR = "#0b3d5c"  # the brand colour, 11.4:1 on white
TARGET = "#b3261e"  # 6.4:1 on white
AXIS = "#4a4a4a"


def bars(
    title: str,
    values: list[tuple[str, Decimal | None]],
    *,
    maximum: Decimal,
    unit: str = "",
    target: Decimal | None = None,
    target_label: str = "",
) -> str:
    """Vertical bars, one per (label, value) (None: no bar), on a scale from 0 to `maximum`; a dashed
    line at `target` if given."""
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(values))

    def y(v: Decimal) -> float:
        return TOP + plot_h - float(v / maximum) * plot_h if maximum else TOP + plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="chart">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 8}" y2="{TOP + plot_h}" stroke="{AXIS}"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="{AXIS}"/>',
    ]
    for fraction in (Decimal(0), Decimal("0.5"), Decimal(1)):
        v = maximum * fraction
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="15" fill="{AXIS}">'
            f"{escape(_short(v))}{escape(unit)}</text>"
        )
    for n, (label, value) in enumerate(values):
        x = LEFT + n * step
        if value is not None:
            top = y(min(value, maximum))
            parts.append(
                f'<rect x="{x + step * 0.15:.1f}" y="{top:.1f}" width="{step * 0.7:.1f}" '
                f'height="{TOP + plot_h - top:.1f}" fill="{BAR}"/>'
            )
        parts.append(
            f'<text x="{x + step / 2:.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle" font-size="15" '
            f'fill="{AXIS}">{escape(label)}</text>'
        )
    if target is not None:
        parts.append(
            f'<line x1="{LEFT}" y1="{y(target):.1f}" x2="{WIDTH - 8}" y2="{y(target):.1f}" stroke="{TARGET}" '
            f'stroke-width="2" stroke-dasharray="6 4"/>'
            f'<text x="{WIDTH - 10}" y="{y(target) - 6:.1f}" text-anchor="end" font-size="15" fill="{TARGET}">'
            f"{escape(target_label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _short(v: Decimal) -> str:
    return f"{v:.0f}" if v == v.to_integral_value() else f"{v:.1f}"
