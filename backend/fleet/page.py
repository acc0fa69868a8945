"""Server-rendered fleet page for central IT (no script, readable without JavaScript)."""

from __future__ import annotations

import html
from datetime import UTC, datetime

from backend.fleet.services import FleetGateway

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1b1f24}
h1{font-size:20px;margin:0 0 4px}
p.summary{color:#57606a;margin:0 0 16px}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #d0d7de;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600}
td:nth-child(-n+4){white-space:nowrap}
tr.silent td{background:#fff1e5}
.bad{color:#b42318;font-weight:600}
.ok{color:#1a7f37}
.muted{color:#57606a}
ul{margin:0;padding-left:16px}
"""


def _when(t: float | None, now: float) -> str:
    if t is None:
        return '<span class="bad">never</span>'
    age = max(0.0, now - t)
    ago = f"{age:.0f} s" if age < 120 else f"{age / 60:.0f} min" if age < 7200 else f"{age / 3600:.0f} h"
    stamp = datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return f'{ago} ago <span class="muted">({stamp})</span>'


def _e(value: object) -> str:
    return "-" if value is None else html.escape(str(value))


def _row(g: FleetGateway, now: float) -> str:
    silent = g.silent(now)
    backlog = "-" if g.sync_backlog is None else f"{g.sync_backlog:,}"
    if g.sync_backlog is not None and g.sync_backlog > 1000:
        backlog = f'<span class="bad">{backlog}</span>'
    releases = "".join(
        f'<li>{_e(r.model)} v{r.version}: <span class="{"ok" if r.outcome in ("activated", "kept") else "bad"}">'
        f"{_e(r.outcome)}</span>{' - ' + _e(r.detail) if r.detail else ''}</li>"
        for r in g.releases
    )
    outcomes = ", ".join(f"{_e(k)} {v}" for k, v in g.outcomes.items()) or "-"
    problems = "".join(f'<li class="bad">{_e(p)}</li>' for p in g.problems) or '<span class="ok">none</span>'
    return (
        f'<tr class="{"silent" if silent else ""}" data-store="{_e(g.store_id)}">'
        f"<td>{_e(g.store_id)}</td><td>{_e(g.gateway_id)}</td>"
        f"<td>{_e(g.software_version)}</td><td>{_e(g.model_version)}</td>"
        f'<td class="contact">{_when(g.last_contact, now)}{" (silent)" if silent else ""}</td>'
        f'<td class="backlog">{backlog}</td>'
        f"<td><ul>{releases}</ul>{'' if releases else '-'}</td><td>{outcomes}</td>"
        f"<td>{problems if not g.problems else '<ul>' + problems + '</ul>'}</td></tr>"
    )


def render(gateways: list[FleetGateway], now: float) -> str:
    silent = sum(g.silent(now) for g in gateways)
    rows = "".join(_row(g, now) for g in gateways) or '<tr><td colspan="9">no gateway yet</td></tr>'
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>Fleet - smart-shelf gateways</title><style>{STYLE}</style></head><body>"
        f'<h1>Gateways</h1><p class="summary">{len(gateways)} gateway(s), '
        f'<span class="{"bad" if silent else "ok"}">{silent} silent</span> (no contact for 15 min); '
        f"as of {datetime.fromtimestamp(now, UTC).strftime('%Y-%m-%d %H:%M:%SZ')}</p>"
        '<table id="fleet"><thead><tr><th>store</th><th>gateway</th><th>software</th><th>model</th>'
        "<th>last contact</th><th>sync backlog</th><th>latest release per model</th>"
        "<th>release outcomes (7 days)</th><th>problems</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></body></html>"
    )


def login_page(error: str | None = None) -> str:
    message = f'<p class="bad">{html.escape(error)}</p>' if error else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Fleet - sign in</title>'
        f"<style>{STYLE}</style></head><body><h1>Sign in</h1>{message}"
        '<form method="post" action="/fleet/login"><label>Admin token '
        '<input type="password" name="token" id="token" autocomplete="off" size="50"></label> '
        '<button type="submit" id="sign-in">Sign in</button></form>'
        '<p class="muted">An admin token (<code>shelf-backend admin token issue --role admin</code>).</p>'
        "</body></html>"
    )
