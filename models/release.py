"""``shelf-models publish DIR``: sign a model release and upload it to the backend (central IT).

DIR holds the release files (e.g. offer_model.onnx, manifest.json) and ``golden.json`` (golden
inputs and expected outputs). Before signing, the release is validated exactly as a gateway will
(contract check + golden cases), so a broken model is never published. Each file is uploaded with
its SHA-256, then the Ed25519-signed metadata (version, expiry, sha256 + size per file) is posted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from edge.sync.client import BackendClient, BackendError
from edge.sync.release_meta import ReleaseRejected, ReleaseSigned, file_entry, load_private_key, sign
from edge.sync.validate import GOLDEN_FILE, validate_slot


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", type=Path, help="release directory (model files + golden.json)")
    parser.add_argument("--model", default="offers", help="model family (default: %(default)s)")
    parser.add_argument("--version", default="auto", help="release version, or 'auto' = published + 1")
    parser.add_argument("--key", type=Path, required=True, help="Ed25519 private key (PEM) of central IT")
    parser.add_argument("--backend", required=True, help="backend base URL, e.g. https://backend.example")
    parser.add_argument(
        "--token", default=os.environ.get("SHELF_BACKEND_TOKEN"), help="admin token (or $SHELF_BACKEND_TOKEN)"
    )
    parser.add_argument(
        "--expires-days", type=float, default=30.0, help="metadata lifetime (default: %(default)s)"
    )


def publish(
    directory: Path,
    model: str,
    version: int | None,
    key_path: Path,
    client: BackendClient,
    expires_days: float,
) -> ReleaseSigned:
    files = sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
    if not any(p.name == GOLDEN_FILE for p in files):
        raise ReleaseRejected(model, version, "contract", f"{directory} has no {GOLDEN_FILE}")
    if version is None:
        latest = client.latest_release(model)
        version = 1 if latest is None else int(json.loads(latest)["signed"]["version"]) + 1
    validate_slot(directory, model, version)
    now = time.time()
    signed = ReleaseSigned(
        model=model,
        version=version,
        created_at=now,
        expires_at=now + expires_days * 86400,
        files=[file_entry(p) for p in files],
    )
    key = load_private_key(key_path)
    for p in files:
        client.upload_release_file(model, version, p.name, p.read_bytes())
    client.publish_release(model, version, sign(signed, key))
    return signed


def run(args: argparse.Namespace) -> int:
    version = None if args.version == "auto" else int(args.version)
    client = BackendClient(args.backend, store="-", token=args.token, timeout_s=60)
    try:
        signed = publish(args.directory, args.model, version, args.key, client, args.expires_days)
    except (ReleaseRejected, BackendError, ValueError, OSError) as exc:
        print(f"publish failed: {exc}", file=sys.stderr)
        return 1
    total = sum(f.size for f in signed.files)
    print(
        f"published {signed.model} v{signed.version}: {len(signed.files)} files, {total} bytes, expires "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(signed.expires_at))}"
    )
    for f in signed.files:
        print(f"  {f.name}  {f.size} bytes  sha256 {f.sha256}")
    return 0
