"""Charts of a report as inline SVG, drawn on the server: the PDF has no JavaScript, and the
page and share link show the same pictures. Every text is escaped; every chart has a title
(`role="img"` and `aria-label`) and, in the report, a table with the same figures beside it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
ACCENT = "#2563eb"
MUTED = "#6b7280"
GRID = "#e5e7eb"
TARGET = "#111827"

Format = Callable[[float], str]


def _svg(width: float, height: float, title: str, body: list[str], css_class: str = "chart") -> SafeString:
    label = escape(title)
    # Every text in `body` is escaped where it is made.
    return mark_safe(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{css_class}" role="img" aria-label="{label}" '
        f'width="{width:g}" height="{height:g}" viewBox="0 0 {width:g} {height:g}" '
        f'font-family="{FONT}" font-size="9">'
        f"<title>{label}</title>{''.join(body)}</svg>"
    )


def _nice_max(value: float) -> float:
    """A round number at least `value` for the top of an axis (1, 2, 5, 10, 20, 50, ...)."""
    if value <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= value:
        step *= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= value:
            return step * factor
    return step * 10


def bars(
    values: Sequence[float | None],
    labels: Sequence[str],
    *,
    title: str,
    fmt: Format,
    width: float = 680,
    height: float = 130,
    colour: str = ACCENT,
    every: int = 1,
) -> SafeString:
    """A vertical bar per value (a day), with the axis maximum and every `every`-th label.
    A missing value (no figures for that day) is drawn as a small grey dash, not as 0."""
    left, right, top, bottom = 34.0, 6.0, 8.0, 18.0
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max((v for v in values if v is not None), default=0.0))
    slot = plot_w / max(len(values), 1)
    bar_w = max(slot * 0.7, 1.0)
    body = [
        f'<line x1="{left:g}" y1="{top + plot_h:g}" x2="{width - right:g}" y2="{top + plot_h:g}" stroke="{MUTED}"/>',
        f'<line x1="{left:g}" y1="{top:g}" x2="{width - right:g}" y2="{top:g}" stroke="{GRID}"/>',
        f'<text x="{left - 4:g}" y="{top + 3:g}" text-anchor="end" fill="{MUTED}">{escape(fmt(top_value))}</text>',
        f'<text x="{left - 4:g}" y="{top + plot_h + 3:g}" text-anchor="end" fill="{MUTED}">{escape(fmt(0))}</text>',
    ]
    for index, value in enumerate(values):
        x = left + index * slot + (slot - bar_w) / 2
        if value is None:
            y = top + plot_h - 1
            body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="1" fill="{GRID}"/>')
        elif value > 0:
            h = plot_h * value / top_value
            body.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{colour}"/>'
            )
        if index % every == 0 and index < len(labels):
            body.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - 5:g}" text-anchor="middle" fill="{MUTED}">'
                f"{escape(labels[index])}</text>"
            )
    return _svg(width, height, title, body)


def progress(percent: float | None, *, title: str, width: float = 50, height: float = 9) -> SafeString:
    """A bar filled to `percent` (capped at 100; beyond it the bar is green)."""
    body = [f'<rect x="0" y="0" width="{width:g}" height="{height:g}" rx="2" fill="{GRID}"/>']
    if percent is not None and percent > 0:
        filled = width * min(percent, 100.0) / 100.0
        colour = "#15803d" if percent >= 100 else ACCENT
        body.append(f'<rect x="0" y="0" width="{filled:.1f}" height="{height:g}" rx="2" fill="{colour}"/>')
    return _svg(width, height, title, body, "inline-chart")


def share_bars(
    rows: Sequence[tuple[str, float, float | None, str]],
    *,
    title: str,
    fmt: Format,
    target_label: str,
    width: float = 680,
) -> SafeString:
    """A horizontal bar per (label, actual %, target % or None, colour), with a black tick at the
    target. The scale runs from 0 to 100 %."""
    row_h, label_w, value_w, top = 18.0, 150.0, 46.0, 4.0
    plot_w = width - label_w - value_w
    height = top + row_h * len(rows) + 16
    body = []
    for index, (label, share, target, colour) in enumerate(rows):
        y = top + index * row_h
        shown = label if len(label) <= 26 else label[:25] + "…"
        body.append(f'<text x="0" y="{y + 11:g}" fill="{TARGET}">{escape(shown)}</text>')
        body.append(f'<rect x="{label_w:g}" y="{y + 3:g}" width="{plot_w:g}" height="10" fill="{GRID}"/>')
        if share > 0:
            body.append(
                f'<rect x="{label_w:g}" y="{y + 3:g}" width="{plot_w * min(share, 100) / 100:.1f}" height="10" '
                f'fill="{escape(colour or ACCENT)}"/>'
            )
        if target is not None:
            tx = label_w + plot_w * min(target, 100) / 100
            body.append(
                f'<line x1="{tx:.1f}" y1="{y + 1:g}" x2="{tx:.1f}" y2="{y + 15:g}" stroke="{TARGET}" stroke-width="2"/>'
            )
        body.append(
            f'<text x="{width:g}" y="{y + 11:g}" text-anchor="end" fill="{TARGET}">{escape(fmt(share))} %</text>'
        )
    legend_y = top + row_h * len(rows) + 10
    body.append(
        f'<line x1="{label_w:g}" y1="{legend_y - 7:g}" x2="{label_w:g}" y2="{legend_y + 1:g}" '
        f'stroke="{TARGET}" stroke-width="2"/>'
        f'<text x="{label_w + 5:g}" y="{legend_y:g}" fill="{MUTED}">{escape(target_label)}</text>'
    )
    return _svg(width, height, title, body)


def sparkline(
    values: Sequence[float | None], *, title: str, target: float | None = None, width: float = 80, height: float = 24
) -> SafeString:
    """A goal's trend as a small line, with its target as a dashed line when it is in range."""
    points = [(index, value) for index, value in enumerate(values) if value is not None]
    body: list[str] = []
    if len(points) >= 2:
        low = min(value for _i, value in points)
        high = max(value for _i, value in points)
        if target is not None and low <= target <= high * 1.5:
            high = max(high, target)
            low = min(low, target)
        span = (high - low) or 1.0
        step = (width - 4) / max(len(values) - 1, 1)

        def y(value: float) -> float:
            return height - 2 - (height - 4) * (value - low) / span

        line = " ".join(f"{2 + index * step:.1f},{y(value):.1f}" for index, value in points)
        if target is not None and low <= target <= high:
            body.append(
                f'<line x1="2" y1="{y(target):.1f}" x2="{width - 2:g}" y2="{y(target):.1f}" '
                f'stroke="{MUTED}" stroke-dasharray="3,2"/>'
            )
        body.append(f'<polyline points="{line}" fill="none" stroke="{ACCENT}" stroke-width="1.5"/>')
    return _svg(width, height, title, body, "inline-chart")
