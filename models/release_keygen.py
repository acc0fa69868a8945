"""``shelf-models keygen --out DIR``: create central IT's Ed25519 release-signing key pair."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge.sync.release_meta import key_id, write_keypair


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, required=True, help="directory for release-signing.pem and .pub.pem"
    )


def run(args: argparse.Namespace) -> int:
    private = args.out / "release-signing.pem"
    public = args.out / "release-signing.pub.pem"
    if private.exists():
        print(f"{private} exists; refusing to overwrite a signing key", file=sys.stderr)
        return 1
    key = write_keypair(private, public)
    print(f"private key {private} (keep it offline), public key {public} (key id {key_id(key.public_key())})")
    print('gateways trust it with:  [backend] release_public_key = "/etc/shelf-edge/release-signing.pub.pem"')
    return 0
