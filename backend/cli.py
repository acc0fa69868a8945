"""``shelf-backend``: run and administer the central service (see backend/README.md).

    shelf-backend [--config backend.toml] migrate
    shelf-backend serve
    shelf-backend admin store add store-001 --name "Lyon Part-Dieu"
    shelf-backend admin token issue --role gateway --store store-001 --label "gw-1"
    shelf-backend admin token list | revoke ID
    shelf-backend admin document put store-001 catalogue catalogue.json
    shelf-backend admin audit
    shelf-backend purge
    shelf-backend openapi [--write PATH]
    shelf-backend jobs day-keys [--days-ahead 1]
    shelf-backend export --since DAY --out DIR
    shelf-backend admin profiles put store-001 profiles.json

Settings come from SHELF_BACKEND_* variables, then the TOML file of --config (or SHELF_BACKEND_CONFIG).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson

from backend.cli_loyalty import add_commands as add_loyalty_commands
from backend.errors import ServiceError
from backend.settings import BackendSettings, SettingsError


def _settings(args: argparse.Namespace) -> BackendSettings:
    path = args.config or (
        Path(os.environ["SHELF_BACKEND_CONFIG"]) if os.environ.get("SHELF_BACKEND_CONFIG") else None
    )
    return BackendSettings.load(path)


def cmd_migrate(args: argparse.Namespace) -> int:
    from backend.db.migrate import upgrade

    settings = _settings(args)
    upgrade(settings)
    print(f"database at the newest schema ({_safe_url(settings.database_url)})")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.config:
        os.environ["SHELF_BACKEND_CONFIG"] = str(args.config)
    if args.host:
        os.environ["SHELF_BACKEND_HOST"] = args.host
    if args.port:
        os.environ["SHELF_BACKEND_PORT"] = str(args.port)
    settings = _settings(args)  # refuse bad settings before any worker starts
    scheme = "https" if settings.tls_certfile else "http"
    print(
        f"shelf-backend on {scheme}://{settings.host}:{settings.port} ({_safe_url(settings.database_url)})",
        flush=True,
    )
    uvicorn.run(
        "backend.serve:app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        ssl_certfile=str(settings.tls_certfile) if settings.tls_certfile else None,
        ssl_keyfile=str(settings.tls_keyfile) if settings.tls_keyfile else None,
        proxy_headers=False,  # behind_proxy: the app trusts settings.trusted_proxies only (backend/app.py)
        access_log=False,
        date_header=False,
        server_header=False,
        log_level="warning",
    )
    return 0


def _session(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from backend.db.engine import make_engine, make_sessionmaker

    return make_sessionmaker(make_engine(_settings(args)))()


def cmd_store(args: argparse.Namespace) -> int:
    from backend.admin import services

    with _session(args) as session:
        if args.action == "add":
            services.add_store(session=session, store_id=args.store_id, name=args.name)
            session.commit()
            print(f"store {args.store_id} added")
        else:
            for store in services.list_stores(session=session):
                print(f"{store.store_id}\t{store.name}\t{_when(store.created_at)}")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from backend.admin import services

    with _session(args) as session:
        if args.action == "issue":
            row, text = services.issue_token(
                session=session, role=args.role, store_id=args.store, label=args.label
            )
            session.commit()
            print(f"token {row.id} ({args.role}{' of ' + args.store if args.store else ''}); shown once:")
            print(text)
        elif args.action == "revoke":
            services.revoke_token(session=session, token_id=args.token_id)
            session.commit()
            print(f"token {args.token_id} revoked")
        else:
            for t in services.list_tokens(session=session):
                state = f"revoked {_when(t.revoked_at)}" if t.revoked_at else "active"
                print(f"{t.id}\t{t.role}\t{t.store_id or '-'}\t{state}\t{t.label}")
    return 0


def cmd_document(args: argparse.Namespace) -> int:
    from backend.gateway import services

    name = (
        services.keys_name(args.name[len("customer-keys/") :])
        if args.name.startswith("customer-keys/")
        else (services.document_name(args.name))
    )
    body = args.file.read_bytes()
    if name == "campaigns":
        from backend.campaigns.services import validate

        validate(body)  # the gateway's own models refuse it here, not in the stores
    with _session(args) as session:
        etag = services.put_document(session=session, store_id=args.store_id, name=name, body=body)
    print(f"{args.store_id}/{name} stored, ETag {etag}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from backend.admin import services

    with _session(args) as session:
        for e in services.audit_log(session=session, limit=args.limit, after_id=args.after):
            print(
                f"{e.id}\t{_when(e.at)}\t{e.actor}\t{e.action}\t{e.target}\t{orjson.dumps(e.detail).decode()}"
            )
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from backend.jobs.retention import purge_events

    settings = _settings(args)
    with _session(args) as session:
        n = purge_events(session=session, retention_days=settings.event_retention_days, now=time.time())
    print(
        f"{n} raw events older than {settings.event_retention_days} days deleted"
        if settings.event_retention_days
        else "event_retention_days is not set: every event is kept"
    )
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    from backend.openapi import render

    text = render()
    if args.write:
        args.write.write_text(text)
        print(args.write)
    else:
        sys.stdout.write(text)
    return 0


def _when(t: float | None) -> str:
    return "-" if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _safe_url(url: str) -> str:
    """The database URL without its password (for messages)."""
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, _, userpass = head.partition("://")
    return f"{scheme}://{userpass.split(':')[0]}@{tail}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shelf-backend", description="The smart-shelf central service.")
    parser.add_argument("--config", type=Path, help="TOML settings file (see deploy/backend.example.toml)")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="create or upgrade the database schema").set_defaults(func=cmd_migrate)
    serve = sub.add_parser("serve", help="serve the API (uvicorn)")
    serve.add_argument("--host", help="listen address (default: settings.host)")
    serve.add_argument("--port", type=int, help="listen port (default: settings.port)")
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("purge", help="delete raw events past event_retention_days").set_defaults(func=cmd_purge)
    openapi = sub.add_parser("openapi", help="print or write the OpenAPI document")
    openapi.add_argument("--write", type=Path, metavar="PATH", help="write it to PATH")
    openapi.set_defaults(func=cmd_openapi)

    admin = sub.add_parser("admin", help="stores, tokens, documents, audit log").add_subparsers(
        dest="area", required=True
    )
    store = admin.add_parser("store", help="stores").add_subparsers(dest="action", required=True)
    add = store.add_parser("add", help="add a store")
    add.add_argument("store_id")
    add.add_argument("--name", default="")
    store.add_parser("list", help="list stores")
    for p in store.choices.values():
        p.set_defaults(func=cmd_store)

    token = admin.add_parser("token", help="bearer tokens").add_subparsers(dest="action", required=True)
    issue = token.add_parser("issue", help="issue a token (printed once)")
    issue.add_argument("--role", choices=("admin", "gateway"), required=True)
    issue.add_argument("--store", help="the store of a gateway token")
    issue.add_argument("--label", default="", help="who holds it")
    revoke = token.add_parser("revoke", help="revoke a token")
    revoke.add_argument("token_id", type=int)
    token.add_parser("list", help="list tokens (never their text)")
    for p in token.choices.values():
        p.set_defaults(func=cmd_token)

    document = admin.add_parser("document", help="per-store documents").add_subparsers(
        dest="action", required=True
    )
    put = document.add_parser("put", help="store a catalogue, planogram, campaigns or customer-keys/DAY")
    put.add_argument("store_id")
    put.add_argument("name", help="catalogue | planogram | campaigns | customer-keys/YYYY-MM-DD")
    put.add_argument("file", type=Path)
    put.set_defaults(func=cmd_document)

    audit = admin.add_parser("audit", help="admin changes, oldest first")
    audit.add_argument("--after", type=int, default=0)
    audit.add_argument("--limit", type=int, default=100)
    audit.set_defaults(func=cmd_audit)
    add_loyalty_commands(sub, admin, _session, _settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except SettingsError as exc:
        print(f"shelf-backend: bad settings in {exc.source}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except ServiceError as exc:
        print(f"shelf-backend: {exc.detail}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"shelf-backend: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
