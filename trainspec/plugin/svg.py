"""Inline SVG line charts for the HTML report: no scripts, no external files."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

#: Broken runs in warm colours, fixed runs in cool ones (also told apart by the legend).
BROKEN = "#d62728"
FIXED = "#1f77b4"


@dataclass
class Line:
    """One curve: ``points`` spread evenly from step ``start`` to ``end`` (None: a gap)."""

    label: str
    points: Sequence[float | None]
    start: float = 0.0
    end: float | None = None
    color: str = FIXED
    dashed: bool = False
    opacity: float = 1.0
    markers: bool = False

    def xy(self) -> list[tuple[float, float | None]]:
        n = len(self.points)
        end = self.end if self.end is not None else self.start + max(n - 1, 0)
        step = (end - self.start) / (n - 1) if n > 1 else 0.0
        return [(self.start + i * step, p) for i, p in enumerate(self.points)]


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _tick(value: float) -> str:
    return f"{value:.3g}"


def line_chart(title: str, lines: Sequence[Line], width: int = 360, height: int = 180,
               x_label: str = "step", x_ticks: Sequence[str] | None = None,
               log: bool | None = None) -> str:
    """An SVG chart of ``lines`` sharing axes; ``log`` scales y by log10 (default: when the
    positive values span more than three decades). ``x_ticks`` names categorical x positions
    0, 1, 2...

    Example:
        >>> svg = line_chart("loss", [Line("fixed", [2.0, 1.0, 0.5])])
        >>> svg.startswith("<svg") and "polyline" in svg
        True
    """
    values = [p for line in lines for _, p in line.xy() if _finite(p)]
    left, right, top, bottom = 48, 10, 22, 34
    legend_h = 14 * ((len([ln for ln in lines if ln.label]) + 1) // 2)
    total_h = height + legend_h
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" '
           f'height="{total_h}" viewBox="0 0 {width} {total_h}" role="img" '
           f'aria-label="{escape(title)}">',
           f'<text x="{left}" y="14" class="title">{escape(title)}</text>']
    if not values:
        out.append(f'<text x="{left}" y="{height // 2}" class="empty">no values</text></svg>')
        return "".join(out)
    if log is None:
        positive = [v for v in values if v > 0]
        log = len(positive) == len(values) and max(positive) / min(positive) > 1e3
    ys = [math.log10(v) for v in values] if log else values
    lo, hi = min(ys), max(ys)
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    xs = [x for line in lines for x, _ in line.xy()]
    x_lo, x_hi = min(xs), max(xs)
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 0.5, x_hi + 0.5
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + (x - x_lo) / (x_hi - x_lo) * plot_w

    def py(v: float) -> float:
        v = math.log10(v) if log else v
        return top + (hi - v) / (hi - lo) * plot_h

    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" class="plot"/>')
    for frac in (0.0, 0.5, 1.0):
        value = hi - frac * (hi - lo)
        y = top + frac * plot_h
        label = _tick(10 ** value if log else value)
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
                   'class="grid"/>')
        out.append(f'<text x="{left - 4}" y="{y + 4:.1f}" class="tick" '
                   f'text-anchor="end">{label}</text>')
    if x_ticks:
        for i, name in enumerate(x_ticks):
            out.append(f'<text x="{px(i):.1f}" y="{top + plot_h + 14}" class="tick" '
                       f'text-anchor="middle">{escape(name)}</text>')
    else:
        for x in (x_lo, x_hi):
            out.append(f'<text x="{px(x):.1f}" y="{top + plot_h + 14}" class="tick" '
                       f'text-anchor="middle">{_tick(x)}</text>')
    out.append(f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h + 28}" class="axis" '
               f'text-anchor="middle">{escape(x_label)}{" (log y)" if log else ""}</text>')
    for line in lines:
        segments: list[list[str]] = [[]]
        for x, p in line.xy():
            if _finite(p) and (not log or p > 0):  # type: ignore[operator]
                segments[-1].append(f"{px(x):.1f},{py(p):.1f}")  # type: ignore[arg-type]
            elif segments[-1]:
                segments.append([])
        dash = ' stroke-dasharray="5,3"' if line.dashed else ""
        for seg in segments:
            if len(seg) > 1:
                out.append(f'<polyline points="{" ".join(seg)}" fill="none" '
                           f'stroke="{line.color}" stroke-width="1.6" '
                           f'stroke-opacity="{line.opacity}"{dash}/>')
            if line.markers or len(seg) == 1:
                for point in seg:
                    x, y = point.split(",")
                    out.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{line.color}"/>')
    labelled = [ln for ln in lines if ln.label]
    for i, line in enumerate(labelled):
        x = left + (i % 2) * (plot_w // 2)
        y = height + 14 * (i // 2) + 4
        dash = ' stroke-dasharray="5,3"' if line.dashed else ""
        out.append(f'<line x1="{x}" x2="{x + 16}" y1="{y - 4}" y2="{y - 4}" '
                   f'stroke="{line.color}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{x + 20}" y="{y}" class="legend">{escape(line.label)}</text>')
    out.append("</svg>")
    return "".join(out)
