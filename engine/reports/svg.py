"""Inline SVG charts for the HTML report: no script, no network, no external
font or stylesheet -- the markup is complete in the page."""

from __future__ import annotations

from html import escape
from typing import Sequence

COLORS = ("#2f6db5", "#d9822b", "#3a9d5d", "#b53f3f", "#7d5bb5", "#5b8fa8")
FONT = 'font-family="sans-serif" font-size="12"'


def _num(value: float) -> str:
    return f"{value:g}" if value != int(value) else str(int(value))


def bar_chart(labels: Sequence[str], values: Sequence[float | None], title: str) -> str:
    """Horizontal bars, one per label, with the value at the end of the bar."""
    data = [(str(lab), float(v or 0)) for lab, v in zip(labels, values)]
    if not data:
        return ""
    width, left, row = 520, 150, 26
    height = 30 + row * len(data)
    top = max(v for _, v in data) or 1.0
    span = width - left - 60
    parts = [f'<svg role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'aria-label="{escape(title)}">', f"<title>{escape(title)}</title>"]
    for i, (label, value) in enumerate(data):
        y = 20 + i * row
        w = round(span * value / top, 1)
        parts.append(f'<text x="{left - 8}" y="{y + 14}" text-anchor="end" {FONT}>{escape(label)}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{w}" height="{row - 8}" fill="{COLORS[0]}"/>')
        parts.append(f'<text x="{left + w + 6}" y="{y + 14}" {FONT}>{_num(value)}</text>')
    parts.append(f'<line x1="{left}" y1="14" x2="{left}" y2="{height - 6}" stroke="#555"/>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart(xs: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], title: str) -> str:
    """One polyline per series over the labels ``xs``, with a legend."""
    if not xs or not series:
        return ""
    width, height, left, bottom, top_pad = 600, 240, 50, 40, 30
    plot_w, plot_h = width - left - 60, height - bottom - top_pad
    top = max((float(v or 0) for _, vals in series for v in vals), default=0.0) or 1.0
    step = plot_w / max(len(xs) - 1, 1)

    def point(i: int, v: float | None) -> tuple[float, float]:
        return round(left + i * step, 1), round(top_pad + plot_h * (1 - float(v or 0) / top), 1)

    parts = [f'<svg role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'aria-label="{escape(title)}">', f"<title>{escape(title)}</title>",
             f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{left + plot_w}" y2="{top_pad + plot_h}" '
             'stroke="#555"/>',
             f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{top_pad + plot_h}" stroke="#555"/>',
             f'<text x="{left - 6}" y="{top_pad + 4}" text-anchor="end" {FONT}>{_num(top)}</text>',
             f'<text x="{left - 6}" y="{top_pad + plot_h}" text-anchor="end" {FONT}>0</text>']
    for i, x in enumerate(xs):
        px, _ = point(i, 0)
        parts.append(f'<text x="{px}" y="{height - bottom + 18}" text-anchor="middle" {FONT}>'
                     f'{escape(x)}</text>')
    for n, (name, values) in enumerate(series):
        color = COLORS[n % len(COLORS)]
        pts = [point(i, v) for i, v in enumerate(values)]
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" '
                     f'points="{" ".join(f"{x},{y}" for x, y in pts)}"/>')
        parts.extend(f'<circle cx="{x}" cy="{y}" r="3" fill="{color}"/>' for x, y in pts)
        lx = left + 10 + n * 120
        parts.append(f'<rect x="{lx}" y="8" width="12" height="12" fill="{color}"/>')
        parts.append(f'<text x="{lx + 16}" y="18" {FONT}>{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
