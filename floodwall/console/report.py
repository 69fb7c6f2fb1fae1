"""The daily report for management: one day's figures as Markdown, HTML or PDF.

Numbers come from the shared daily figures (``floodwall/store/figures.py``), the same
ones the console and ``floodwall stats`` show. Charts are drawn with matplotlib's Agg
backend (no display needed) as PNG, embedded base64 in HTML (RFC 2397 data URLs) and
drawn straight into the PDF through ``PdfPages``: nothing is fetched from anywhere.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from floodwall.console.dashboard import load_dashboard, technique_names
from floodwall.store.db import Store
from floodwall.store.figures import DayFigures, DayTotals

FORMATS = ("md", "html", "pdf")
TOP = 10


@dataclass(frozen=True, slots=True)
class DayReport:
    """Everything the report says about one day."""

    day: date
    figures: DayFigures
    trend: tuple[DayTotals, ...]  # oldest first
    technique_names: dict[str, str]
    campaigns: tuple[tuple[str, int, int], ...]  # (id, alerts, messages)
    hosts: tuple[tuple[str, int], ...]


def gather(store: Store, day: date, *, home_country: str) -> DayReport:
    """The day as the console's dashboard shows it (one code path, console/dashboard.py)."""
    found = load_dashboard(store, day, home_country=home_country, top=TOP)
    return DayReport(
        day=day, figures=found.figures, trend=found.trend, technique_names=technique_names(),
        campaigns=found.campaigns, hosts=found.hosts,
    )  # fmt: skip


# -- the content, once, as rows the three formats lay out -------------------------------


def headline(r: DayReport) -> list[tuple[str, str]]:
    f = r.figures
    week = r.trend[-7:]
    avg = sum(d.seen for d in week) / max(len(week), 1)
    return [
        ("Attacks seen", str(f.seen)),
        ("Blocked", str(f.blocked)),
        ("Got through", str(f.got_through)),
        ("Seen per day, last 7 days (average)", f"{avg:.1f}"),
        ("Log alerts before folding", f"{f.log_alerts} (fold window {f.fold_minutes} min)"),
    ]


def sections(r: DayReport) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, column names, rows) of each table in the report."""
    f = r.figures

    def split(rows: Any) -> list[list[str]]:
        return [[s.key, str(s.seen), str(s.blocked), str(s.got_through)] for s in rows]

    cols = ["", "seen", "blocked", "got through"]
    techniques = [
        [s.key, r.technique_names.get(s.key, ""), str(s.seen), str(s.got_through)]
        for s in f.by_technique[:TOP]
    ]
    through = [s for s in f.by_country if s.got_through][:TOP]
    losses = [
        [x.source, str(x.received), str(x.unparseable),
         "not recorded" if x.dropped is None else str(x.dropped),
         "not recorded" if x.late is None else str(x.late)]
        for x in f.losses
    ]  # fmt: skip
    out: list[tuple[str, list[str], list[list[str]]]] = [
        ("Origins", ["origin", *cols[1:]], split(f.by_origin)),
        ("Countries", ["country", *cols[1:]], split(f.by_country[:TOP])),
        ("Techniques (ATT&CK)", ["id", "name", "seen", "got through"], techniques),
        ("Top campaigns", ["campaign", "alerts", "messages"],
         [[c, str(a), str(m)] for c, a, m in r.campaigns]),
        ("What got through: by source", ["source", *cols[1:]], split(f.by_source)),
        ("What got through: by country", ["country", "got through"],
         [[s.key, str(s.got_through)] for s in through]),
        ("What got through: hosts with detections", ["host", "alerts"],
         [[h, str(n)] for h, n in r.hosts]),
        ("Intake losses", ["source", "received", "unparseable", "dropped", "late"], losses),
    ]  # fmt: skip
    return out


def notes(r: DayReport) -> list[str]:
    out = [
        "Mail counts once per recipient; quarantined or rejected mail is blocked, tagged "
        "mail got through. Every log detection got through (it happened on the host).",
    ]
    if r.figures.unfinished_hunts:
        out.append(f"{r.figures.unfinished_hunts} hunt(s) started that day never finished.")
    return out


# -- charts -------------------------------------------------------------------------------


def charts(r: DayReport) -> list[tuple[str, Any]]:
    """(title, matplotlib Figure) for the trend, the origins and the countries."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    # Dates go through matplotlib's registered date converter; its stubs list numbers only.
    days: list[Any] = [d.day for d in r.trend]
    trend = Figure(figsize=(7.5, 2.6), dpi=110)
    ax = trend.add_subplot()
    ax.plot(days, [d.seen for d in r.trend], label="seen", color="#2f6f9f")
    ax.plot(days, [d.blocked for d in r.trend], label="blocked", color="#2e7d32")
    ax.plot(days, [d.got_through for d in r.trend], label="got through", color="#c0392b")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.tick_params(labelsize=7)
    ax.set_ylim(bottom=0)
    trend.autofmt_xdate()
    trend.tight_layout()

    def bars(title: str, rows: list[tuple[str, int]], colour: str) -> Any:
        fig = Figure(figsize=(7.5, 0.4 + 0.28 * max(len(rows), 1)), dpi=110)
        axis = fig.add_subplot()
        labels = [k for k, _ in rows][::-1]
        axis.barh(labels, [n for _, n in rows][::-1], color=colour)
        axis.tick_params(labelsize=8)
        axis.set_title(title, fontsize=9, loc="left")
        fig.tight_layout()
        return fig

    f = r.figures
    return [
        ("Attacks per day, last 30 days", trend),
        ("By origin", bars("attacks by origin", [(s.key, s.seen) for s in f.by_origin], "#8e44ad")),
        ("By country", bars("attacks by country", [(s.key, s.seen) for s in f.by_country[:TOP]],
                            "#2f6f9f")),
    ]  # fmt: skip


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# -- the three formats ----------------------------------------------------------------------


def to_markdown(r: DayReport) -> str:
    lines = [f"# Floodwall daily report, {r.day.isoformat()}", ""]
    lines += [f"- **{k}**: {v}" for k, v in headline(r)]
    lines += ["", "Trend, seen per day (oldest first): " + " ".join(str(d.seen) for d in r.trend)]
    for title, cols, rows in sections(r):
        lines += ["", f"## {title}", ""]
        if not rows:
            lines.append("none")
            continue
        lines.append("| " + " | ".join(cols) + " |")
        lines.append("|" + "---|" * len(cols))
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    lines += ["", *notes(r), ""]
    return "\n".join(lines)


def to_html(r: DayReport) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Floodwall daily report {r.day}</title><style>body{{font-family:sans-serif;"
        "color:#1d232a;max-width:60em;margin:2em auto}}table{{border-collapse:collapse;"
        "margin:.5em 0}}td,th{{border-bottom:1px solid #ddd;padding:3px 10px;text-align:left}}"
        "</style></head><body>",
        f"<h1>Floodwall daily report, {r.day}</h1><table>",
        *(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in headline(r)),
        "</table>",
    ]
    for title, fig in charts(r):
        data = base64.b64encode(_png(fig)).decode()
        parts.append(
            f"<h2>{e(title)}</h2><img alt='{e(title)}' src='data:image/png;base64,{data}'>"
        )
    for title, cols, rows in sections(r):
        parts.append(f"<h2>{e(title)}</h2>")
        if not rows:
            parts.append("<p>none</p>")
            continue
        parts.append("<table><tr>" + "".join(f"<th>{e(c)}</th>" for c in cols) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows]
        parts.append("</table>")
    parts += [f"<p>{e(n)}</p>" for n in notes(r)]
    parts.append("</body></html>")
    return "\n".join(parts)


def to_pdf(r: DayReport) -> bytes:
    """An A4 PDF: headline and charts on page one, the tables after."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    buf = io.BytesIO()
    with PdfPages(buf) as pdf:
        page = Figure(figsize=(8.27, 11.69))
        page.text(0.06, 0.96, f"Floodwall daily report, {r.day}", fontsize=16, weight="bold")
        y = 0.93
        for k, v in headline(r):
            page.text(0.06, y, f"{k}: {v}", fontsize=10)
            y -= 0.02
        images = charts(r)
        top = y - 0.01
        for _, fig in images:
            _w, h = fig.get_size_inches()
            height = min(0.26, h / 11.69)
            ax = page.add_axes((0.05, top - height, 0.9, height))
            ax.imshow(_image(fig))
            ax.axis("off")
            top -= height + 0.01
        pdf.savefig(page)
        lines: list[str] = []
        for title, cols, rows in sections(r):
            lines += ["", title, "  " + " | ".join(cols)]
            lines += ["  " + " | ".join(row)[:110] for row in rows] or ["  none"]
        lines += ["", *notes(r)]
        per_page = 62
        for start in range(0, len(lines), per_page):
            sheet = Figure(figsize=(8.27, 11.69))
            for i, line in enumerate(lines[start : start + per_page]):
                sheet.text(0.05, 0.96 - i * 0.015, line, fontsize=7.5, family="monospace")
            pdf.savefig(sheet)
    return buf.getvalue()


def _image(fig: Any) -> Any:
    import matplotlib.image

    return matplotlib.image.imread(io.BytesIO(_png(fig)), format="png")


def render(r: DayReport, fmt: str) -> bytes:
    """The report as bytes in ``fmt`` (md | html | pdf)."""
    if fmt == "md":
        return to_markdown(r).encode()
    if fmt == "html":
        return to_html(r).encode()
    if fmt == "pdf":
        return to_pdf(r)
    raise ValueError(f"format must be one of {', '.join(FORMATS)}")
