"""The uplift report as one self-contained HTML page (plots as inline SVG by matplotlib).

Pure apart from rendering: takes the dict of :func:`models.experiments.report.build_report`,
returns the page's text. Plots: a forest plot of the headline uplift per campaign and variant,
and per campaign the cumulative uplift over weeks with its always-valid interval band.
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

METRIC_NAMES = {
    "converted": "Took the offered product (visit)",
    "spend_visit": "Spend in the visit",
    "margin_visit": "Margin in the visit",
    "spend_7d": "Spend, next 7 days",
    "margin_7d": "Margin, next 7 days",
    "spend_28d": "Spend, next 28 days",
    "margin_28d": "Margin, next 28 days",
}
TABLE_METRICS = ("converted", "spend_visit", "margin_visit", "spend_7d", "margin_28d")
STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1150px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}th{background:#f2f2f2}
td.l,th.l{text-align:left}.up{color:#0a7a2f;font-weight:600}.down{color:#b00020;font-weight:600}
.flag{background:#ffe3e3;color:#b00020;font-weight:600}.ok{color:#0a7a2f}.note{color:#555;font-size:13px}
"""


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _headline(entry: Mapping[str, Any], kind: str = "cuped") -> Mapping[str, Any]:
    result: Mapping[str, Any] = entry["metrics"]["spend_visit"][kind]
    return result


def forest_plot(rows: Sequence[Mapping[str, Any]], alpha: float) -> str:
    labels = [f"{r['campaign']} / {r['variant']}{'' if r.get('like_for_like', True) else ' †'}" for r in rows]
    fig, ax = plt.subplots(figsize=(8.5, 0.45 * len(rows) + 1.2))
    for i, r in enumerate(rows):
        h = _headline(r)
        lo, hi = h["ci_low"], h["ci_high"]
        if lo is None or hi is None:  # too few shoppers for an interval: the estimate alone, hollow
            ax.plot([h["absolute"]], [i], "o", mfc="none", color="#999999")
            ax.annotate(
                "  too few shoppers for an interval",
                (h["absolute"], i),
                fontsize=8,
                color="#777777",
                va="center",
            )
            continue
        colour = "#0a7a2f" if lo > 0 else "#b00020" if hi < 0 else "#555555"
        ax.plot([lo, hi], [i, i], color=colour, lw=2.5)
        ax.plot([h["absolute"]], [i], "o", color=colour)
    ax.axvline(0, color="#999", lw=1, ls="--")
    ax.set_yticks(range(len(rows)), labels)
    ax.invert_yaxis()
    ax.set_xlabel(
        f"Extra spend per exposed shopper in the visit vs holdout ({100 * (1 - alpha):.0f} % interval, CUPED)"
    )
    ax.grid(axis="x", alpha=0.3)
    return _svg(fig)


def weeks_plot(campaign: str, rows: Sequence[Mapping[str, Any]], alpha: float) -> str:
    fig, ax = plt.subplots(figsize=(8.5, 3.2))
    variants = sorted({r["variant"] for r in rows})
    for k, variant in enumerate(variants):
        mine = [r for r in rows if r["variant"] == variant]
        weeks = [r["week"] for r in mine]
        seq = [_headline(r, "sequential") for r in mine]
        est = [s["absolute"] for s in seq]
        lo = [s["ci_low"] if s["ci_low"] is not None else math.nan for s in seq]
        hi = [s["ci_high"] if s["ci_high"] is not None else math.nan for s in seq]
        colour = f"C{k}"
        ax.fill_between(range(len(weeks)), lo, hi, color=colour, alpha=0.18)
        ax.plot(range(len(weeks)), est, "o-", color=colour, label=variant)
        ax.set_xticks(range(len(weeks)), weeks, rotation=30, ha="right", fontsize=8)
    ax.axhline(0, color="#999", lw=1, ls="--")
    ax.set_title(f"{campaign}: extra visit spend per shopper, cumulative by week")
    ax.set_ylabel(f"vs holdout ({100 * (1 - alpha):.0f} % always-valid band)", fontsize=8)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _svg(fig)


def _num(value: float | None, digits: int = 2, pct: bool = False) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{100 * value:.1f}\u00a0%" if pct else f"{value:,.{digits}f}"


def _cell(result: Mapping[str, Any], pct: bool, mark: str = "") -> str:
    if result["error"] == "too-few-units":
        return "<td>–<br><small>too few shoppers yet</small></td>"
    lo, hi = result["ci_low"], result["ci_high"]
    cls = "up" if lo is not None and lo > 0 else "down" if hi is not None and hi < 0 else ""
    rel = result["relative"]
    rel_txt = f" ({'+' if rel and rel > 0 else ''}{_num(rel, pct=True)})" if rel is not None else ""
    return (
        f'<td class="{cls}">{_num(result["absolute"], 3 if pct else 2, pct)}{mark}<br><small>{html.escape(rel_txt)}</small>'
        f"<br><small>[{_num(lo, 3 if pct else 2, pct)}, {_num(hi, 3 if pct else 2, pct)}]</small></td>"
    )


def _table(rows: Sequence[Mapping[str, Any]], keys: Sequence[str], table_id: str) -> str:
    head = "".join(f'<th class="l">{html.escape(k)}</th>' for k in keys)
    head += "<th>exposed (offers / holdout)</th>"
    head += "".join(f"<th>{html.escape(METRIC_NAMES[m])}</th>" for m in TABLE_METRICS)
    head += "<th>always-valid p (visit spend)</th>"
    body = []
    for r in rows:
        mark = "" if r.get("like_for_like", True) else " †"
        cells = "".join(
            f'<td class="l">{html.escape(str(r[k]))}{mark if k == "variant" else ""}</td>' for k in keys
        )
        n = r["exposed_shoppers"]
        cells += f"<td>{n['treated']:,} / {n['holdout']:,}</td>"
        for m in TABLE_METRICS:
            kind = "plain" if m == "converted" else "cuped"
            conv_mark = " ‡" if m == "converted" and not r.get("conversion_like_for_like", True) else ""
            cells += _cell(r["metrics"][m][kind], pct=(m == "converted"), mark=conv_mark)
        cells += f"<td>{_num(_headline(r, 'sequential')['p_value'], 4)}</td>"
        body.append(f"<tr>{cells}</tr>")
    return f'<table id="{table_id}"><tr>{head}</tr>{"".join(body)}</table>'


def _srm_table(srm: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for s in srm:
        counts = ", ".join(f"{html.escape(k)} {v:,}" for k, v in s["observed"].items())
        if s["error"]:
            status, cls = f"not checked ({html.escape(s['error'])})", ""
        elif s["mismatch"]:
            status, cls = f"MISMATCH p = {s['p_value']:.2g}: do not trust this campaign's uplift", "flag"
        else:
            status, cls = f"ok (p = {s['p_value']:.2g})", "ok"
        rows.append(
            f'<tr><td class="l">{html.escape(s["campaign"])}</td><td class="l">{counts}</td><td class="l {cls}">{status}</td></tr>'
        )
    return (
        '<table id="srm"><tr><th class="l">campaign</th><th class="l">shoppers per group</th>'
        f'<th class="l">sample ratio check</th></tr>{"".join(rows)}</table>'
    )


def render(report: Mapping[str, Any], title: str = "Offer uplift report") -> str:
    alpha = float(report["alpha"])
    overall = list(report["overall"])
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='note'>{html.escape(str(report.get('source', '')))} · data up to {html.escape(str(report.get('as_of', '')))}."
        " Each shopper counts once per campaign, from their first offer (or held-out offer) on. "
        "Green: the interval is above 0 (the offers raised it); red: below 0. Money figures use CUPED "
        "(adjusted for what the shopper spent in the 28 days before their first offer).</p>",
        "<h2>Is the split healthy?</h2>",
        _srm_table(report["srm"]),
        "<h2>Uplift per campaign and variant</h2>",
    ]
    if overall:
        parts.append(f'<div id="forest">{forest_plot(overall, alpha)}</div>')
        parts.append(_table(overall, ("campaign", "variant"), "overall"))
    else:
        parts.append("<p id='forest'>No treated exposures with a holdout to compare.</p>")
    if any(not r.get("like_for_like", True) or not r.get("conversion_like_for_like", True) for r in overall):
        parts.append(
            "<p class='note'>† These events come from gateways that logged no shadow variant: all held-out "
            "shoppers were decided as the first variant would decide, so for other variants a single "
            "campaign's row compares shoppers picked by different rankings. Read '(all offers)' for "
            "those variants. ‡ For the same reason, 'took the offered product' of those variants "
            "compares their product with the one the holdout would have been offered: read their "
            "spend and margin.</p>"
        )
    parts.append("<h2>Over the weeks (what you would have seen each week)</h2>")
    weekly = list(report["weekly"])
    for campaign in dict.fromkeys(r["campaign"] for r in weekly):
        rows = [r for r in weekly if r["campaign"] == campaign]
        parts.append(f'<div class="weeks">{weeks_plot(campaign, rows, alpha)}</div>')
    if report["long_term"]:
        parts.append("<h2>Long-term: all offers against the universal holdout</h2>")
        parts.append(_table(report["long_term"], ("campaign", "variant"), "long-term"))
    parts.append("<h2>Per store and week</h2>")
    parts.append(_table(report["cells"], ("campaign", "variant", "store", "week"), "cells"))
    parts.append("</body></html>")
    return "\n".join(parts)
