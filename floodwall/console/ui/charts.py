"""Small SVG charts drawn on the server: no chart library, no CDN, no script needed.

The markup is built from numbers and escaped labels only, so it is safe to mark as
Markup in templates. Colours and sizes are SVG presentation attributes, not CSS, so
the page's Content-Security-Policy (no inline styles) does not block them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from html import escape
from typing import Any

from markupsafe import Markup

ORIGIN_COLOURS = {
    "domestic": "#2f6f9f",
    "abroad": "#c0392b",
    "internal": "#7f8c8d",
    "obscured": "#8e44ad",
    "unknown": "#b0b7bf",
}


def pairs(splits: Sequence[Any]) -> list[tuple[str, int]]:
    """(key, seen) of each figures Split, the rows the bar charts take."""
    return [(str(s.key), int(s.seen)) for s in splits]


def sparkline(
    values: Sequence[int], *, width: int = 160, height: int = 36, label: str = ""
) -> Markup:
    """A line of ``values`` (oldest first) with the last point marked; empty when no data."""
    if not values:
        return Markup("")
    top = max(max(values), 1)
    step = width / max(len(values) - 1, 1)
    pad = 3
    points = [
        (round(i * step, 1), round(height - pad - (v / top) * (height - 2 * pad), 1))
        for i, v in enumerate(values)
    ]
    path = " ".join(f"{x},{y}" for x, y in points)
    last_x, last_y = points[-1]
    title = escape(label or f"{len(values)} days, highest {top}")
    return Markup(
        f'<svg class="spark" role="img" viewBox="0 0 {width} {height}" width="{width}"'
        f' height="{height}" aria-label="{title}"><title>{title}</title>'
        f'<polyline fill="none" stroke="#2f6f9f" stroke-width="1.5" points="{path}"/>'
        f'<circle cx="{last_x}" cy="{last_y}" r="2.5" fill="#2f6f9f"/></svg>'
    )


def hbars(
    rows: Sequence[tuple[str, int]],
    *,
    width: int = 420,
    bar_height: int = 18,
    colour: str = "#2f6f9f",
) -> Markup:
    """A ranked horizontal bar chart: one labelled bar per (label, count), largest first."""
    if not rows:
        return Markup('<p class="muted">nothing to show</p>')
    label_w, count_w = 120, 60
    top = max(max(c for _, c in rows), 1)
    span = width - label_w - count_w
    gap = 6
    height = len(rows) * (bar_height + gap)
    parts = [
        f'<svg class="bars" role="img" viewBox="0 0 {width} {height}" width="{width}"'
        f' height="{height}" aria-label="ranked bar chart">'
    ]
    for i, (label, count) in enumerate(rows):
        y = i * (bar_height + gap)
        w = max(round(span * count / top), 1 if count else 0)
        text = escape(label[:18])
        parts.append(
            f'<text x="0" y="{y + bar_height - 5}" font-size="12" fill="#222">{text}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_height}" rx="2"'
            f' fill="{colour}"><title>{escape(label)}: {count}</title></rect>'
            f'<text x="{label_w + w + 6}" y="{y + bar_height - 5}" font-size="12"'
            f' fill="#222">{count}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def split_bar(shares: Sequence[tuple[str, int]], *, width: int = 420, height: int = 22) -> Markup:
    """One stacked bar of the origin classes (domestic / abroad / ...), with a legend."""
    total = sum(c for _, c in shares)
    if total == 0:
        return Markup('<p class="muted">no attacks with an origin yet</p>')
    parts = [
        f'<svg class="split" role="img" viewBox="0 0 {width} {height}" width="{width}"'
        f' height="{height}" aria-label="origin split">'
    ]
    x = 0.0
    for name, count in shares:
        w = width * count / total
        colour = ORIGIN_COLOURS.get(name, "#999")
        parts.append(
            f'<rect x="{round(x, 1)}" y="0" width="{round(w, 1)}" height="{height}"'
            f' fill="{colour}"><title>{escape(name)}: {count}</title></rect>'
        )
        x += w
    parts.append("</svg>")
    legend = "".join(
        f'<span class="legend"><svg width="10" height="10" aria-hidden="true"><rect width="10"'
        f' height="10" fill="{ORIGIN_COLOURS.get(n, "#999")}"/></svg> {escape(n)} {c}'
        f" ({100 * c / total:.0f}%)</span>"
        for n, c in shares
    )
    return Markup("".join(parts) + f'<div class="legends">{legend}</div>')


def columns(
    rows: Sequence[tuple[str, int]], *, width: int = 420, height: int = 120, colour: str = "#2f6f9f"
) -> Markup:
    """One column per (day, count), oldest first, with the first and last day written
    under the axis: a timeline stays one chart high however many days it spans."""
    if not rows:
        return Markup('<p class="muted">nothing to show</p>')
    top = max(max(c for _, c in rows), 1)
    axis = height - 16
    step = width / len(rows)
    bar = min(max(step - 2, 1), 28)  # a short timeline keeps narrow columns
    parts = [
        f'<svg class="columns" role="img" viewBox="0 0 {width} {height}" width="{width}"'
        f' height="{height}" aria-label="timeline">'
    ]
    for i, (label, count) in enumerate(rows):
        h = max(round((axis - 14) * count / top), 1 if count else 0)
        x = round(i * step, 1)
        parts.append(
            f'<rect x="{x}" y="{axis - h}" width="{round(bar, 1)}" height="{h}" fill="{colour}">'
            f"<title>{escape(label)}: {count}</title></rect>"
        )
    parts.append(
        f'<line x1="0" y1="{axis}" x2="{width}" y2="{axis}" stroke="#b0b7bf"/>'
        f'<text x="0" y="{height - 3}" font-size="11" fill="#555">{escape(rows[0][0])}</text>'
        f'<text x="{width}" y="{height - 3}" font-size="11" fill="#555"'
        f' text-anchor="end">{escape(rows[-1][0])}</text>'
        f'<text x="{width}" y="10" font-size="11" fill="#555" text-anchor="end">'
        f"peak {top}</text></svg>"
    )
    return Markup("".join(parts))


def day_series(timeline: list[dict[str, Any]], *, most: int = 400) -> list[tuple[str, int]]:
    """The campaign's members per day, quiet days in between as 0 (a chart that skipped
    them would draw a burst where there was a lull); bad rows are left out."""
    counts: dict[date, int] = {}
    for row in timeline:
        try:
            counts[date.fromisoformat(str(row["day"]))] = int(row["members"])
        except (KeyError, TypeError, ValueError):
            continue
    if not counts:
        return []
    first, last = min(counts), max(counts)
    if (last - first).days >= most:  # a forged far date: show only the recorded days
        return [(d.isoformat(), n) for d, n in sorted(counts.items())]
    days = (first + timedelta(days=i) for i in range((last - first).days + 1))
    return [(d.isoformat(), counts.get(d, 0)) for d in days]
