"""``shelf-backend`` commands of the loyalty, jobs and export areas (added to backend/cli.py's parser).

shelf-backend jobs day-keys [--days-ahead 1]
shelf-backend export --since 2026-11-01 --out /srv/analytics/events
shelf-backend admin profiles put store-001 profiles.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Session = Callable[[argparse.Namespace], Any]


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day (YYYY-MM-DD): {text!r}") from None


def add_commands(
    sub: Any, admin: Any, session: Session, settings: Callable[[argparse.Namespace], Any]
) -> None:
    """Register the commands; ``session(args)`` opens a database session, ``settings(args)`` loads them."""

    def cmd_day_keys(args: argparse.Namespace) -> int:
        from backend.jobs.day_keys import run_day_keys

        with session(args) as s:
            done = run_day_keys(
                session=s, secret_key=settings(args).secret_key, now=time.time(), days_ahead=args.days_ahead
            )
        print(
            f"day keys: {done.stores} store(s), {done.documents} document(s) written "
            f"(unchanged ones kept), {done.customers} customer(s) with recognition consent, "
            f"{done.derived} key(s) derived"
        )
        return 0

    def cmd_export(args: argparse.Namespace) -> int:
        from backend.export.parquet import export_events

        with session(args) as s:
            done = export_events(session=s, since=args.since, out=args.out)
        print(
            f"{done.events} events since {args.since} -> {args.out} ({done.partitions} partitions, {done.files} files)"
        )
        return 0

    def cmd_profiles(args: argparse.Namespace) -> int:
        from backend.loyalty.services import publish_profiles

        with session(args) as s:
            etag, kept, dropped = publish_profiles(
                session=s, store_id=args.store_id, body=args.file.read_bytes()
            )
        print(
            f"{args.store_id}/profiles stored, ETag {etag}: {kept} published, {dropped} left out (no offers consent)"
        )
        return 0

    jobs = sub.add_parser("jobs", help="scheduled jobs").add_subparsers(dest="job", required=True)
    day_keys = jobs.add_parser("day-keys", help="publish every store's customer keys ahead of the day")
    day_keys.add_argument("--days-ahead", type=int, default=1, help="days after today to publish (default 1)")
    day_keys.set_defaults(func=cmd_day_keys)

    export = sub.add_parser("export", help="write events as Parquet, partitioned by day and store")
    export.add_argument("--since", type=_day, required=True, help="first UTC day (YYYY-MM-DD)")
    export.add_argument("--out", type=Path, required=True, help="output directory (partitions replaced)")
    export.set_defaults(func=cmd_export)

    profiles = admin.add_parser("profiles", help="shopper profiles").add_subparsers(
        dest="action", required=True
    )
    put = profiles.add_parser("put", help="publish a store's profiles ({shopper: profile} JSON)")
    put.add_argument("store_id")
    put.add_argument("file", type=Path)
    put.set_defaults(func=cmd_profiles)
