"""Small inline SVG charts (line and horizontal bar) for self-contained HTML: no script, no
external resource, every label escaped."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 640
FONT = 11
COLOR = "#2563eb"
MUTED = "#94a3b8"


@dataclass(frozen=True)
class LinePoint:
    label: str  # x-axis label (a date)
    value: float
    tooltip: str = ""


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" font-size="{FONT}" '
            f'font-family="sans-serif"><title>{escape(title)}</title>{"".join(body)}</svg>')


def percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def line_chart(points: Sequence[LinePoint], title: str, *, top: float | None = None,
               fmt: Callable[[float], str] = percent, height: int = 200) -> str:
    """Values over time, left to right in the order given; y from 0 to `top` (default: the
    largest value, at least a little above 0)."""
    left, right, upper, lower = 56, 16, 14, 34
    plot_w, plot_h = WIDTH - left - right, height - upper - lower
    peak = top if top is not None else max([p.value for p in points] + [0.0])
    peak = peak or 1.0
    body = []
    for i in range(5):  # horizontal grid lines with their value
        y = upper + plot_h - plot_h * i / 4
        body.append(f'<line x1="{left}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}" '
                    f'stroke="#e2e8f0"/><text x="{left - 6}" y="{y + 4:.1f}" '
                    f'text-anchor="end" fill="#475569">{escape(fmt(peak * i / 4))}</text>')
    if not points:
        body.append(f'<text x="{WIDTH / 2}" y="{height / 2}" text-anchor="middle" '
                    f'fill="{MUTED}">no complete full scan in the window</text>')
        return _svg(WIDTH, height, title, body)
    step = plot_w / max(1, len(points) - 1)
    coords = []
    for i, p in enumerate(points):
        x = left + (step * i if len(points) > 1 else plot_w / 2)
        y = upper + plot_h - plot_h * min(p.value, peak) / peak
        coords.append((x, y, p))
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in coords)
        body.append(f'<polyline points="{path}" fill="none" stroke="{COLOR}" stroke-width="2"/>')
    every = max(1, len(coords) // 6)  # at most about six x labels
    for i, (x, y, p) in enumerate(coords):
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLOR}">'
                    f'<title>{escape(p.tooltip or f"{p.label}: {fmt(p.value)}")}</title></circle>')
        last = i == len(coords) - 1
        if (i % every == 0 and len(coords) - 1 - i >= every / 2) or last:
            anchor = "end" if last and len(coords) > 1 else "middle"
            body.append(f'<text x="{x:.1f}" y="{height - lower + 16}" text-anchor="{anchor}" '
                        f'fill="#475569">{escape(p.label)}</text>')
    x, y, p = coords[-1]  # the latest value, written out
    body.append(f'<text x="{x - 4:.1f}" y="{y - 8:.1f}" text-anchor="end" fill="{COLOR}" '
                f'font-weight="bold">{escape(fmt(p.value))}</text>')
    return _svg(WIDTH, height, title, body)


def bar_chart(bars: Sequence[tuple[str, float]], title: str, *,
              fmt: Callable[[float], str] = lambda v: f"{v:,.0f}",
              top: float | None = None) -> str:
    """Horizontal bars, one per (label, value), in the order given."""
    label_w, right, row = 200, 70, 20
    height = max(1, len(bars)) * row + 8
    plot_w = WIDTH - label_w - right
    peak = top if top is not None else max([v for _, v in bars] + [0.0])
    peak = peak or 1.0
    body = []
    for i, (label, value) in enumerate(bars):
        y = 4 + i * row
        w = plot_w * min(value, peak) / peak
        short = label if len(label) <= 28 else label[:27] + "\u2026"
        body.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" fill="#1e293b">'
            f'{escape(short)}</text><rect x="{label_w}" y="{y + 2}" width="{w:.1f}" '
            f'height="{row - 6}" fill="{COLOR}"><title>{escape(f"{label}: {fmt(value)}")}'
            f'</title></rect><text x="{label_w + w + 4:.1f}" y="{y + 13}" fill="#475569">'
            f'{escape(fmt(value))}</text>')
    if not bars:
        body.append(f'<text x="{WIDTH / 2}" y="18" text-anchor="middle" fill="{MUTED}">no data'
                    '</text>')
        height = 28
    return _svg(WIDTH, height, title, body)
