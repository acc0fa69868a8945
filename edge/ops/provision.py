"""``shelf-edge provision``: register this gateway with the backend using an enrollment code.

    sudo shelf-edge provision --backend https://backend.example.com --enrollment-code ABCD-1234-EFGH

1. a gateway identity key (Ed25519, /etc/smartshelf/pki/identity.key, 0600) is created once; its
   SHA-256 fingerprint ties the enrollment code to this gateway;
2. ``POST {backend}/v1/provision`` returns the store id, gateway id, a bearer token, the model
   release signing key and the initial config sections;
3. they are merged into /etc/smartshelf/edge.toml (0640), edited in place with tomlkit: local
   sections the backend does not send are kept, and so are the technician's comments; the release
   key is written to /etc/smartshelf/release-key.pem;
4. ``shelf-edge install`` runs again, so broker certificates and ACLs match the new store.

Running it again is harmless: the backend answers the same code + key with the same result and the
files are rewritten identically. Exit codes: 0 done, 1 backend unreachable or failing, 2 bad local
config, 3 the code was refused.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import requests
import tomlkit
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from tomlkit.exceptions import TOMLKitError

from edge.atomic_file import write_atomic
from edge.config import parse_config
from edge.errors import ConfigError
from edge.ops import units
from edge.ops.install import InstallOptions, initial_config, install, new_dashboard_password, under
from edge.ops.tomlwrite import update_document


class ProvisionError(Exception):
    def __init__(self, exit_code: int, message: str, fix: str) -> None:
        self.exit_code, self.message, self.fix = exit_code, message, fix
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Provisioned:
    store_id: str
    gateway_id: str
    config_file: Path
    fingerprint: str
    #: A new gateway's dashboard password, to show once (the config keeps only its hash); else None.
    dashboard_password: str | None = None


def identity_fingerprint(pki_dir: Path) -> str:
    """Create the gateway's identity key once; return the SHA-256 of its public key."""
    path = pki_dir / "identity.key"
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ProvisionError(2, f"{path} is not an Ed25519 key", f"move {path} aside and run again")
    else:
        key = Ed25519PrivateKey.generate()
        pki_dir.mkdir(parents=True, exist_ok=True)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def request_provision(backend: str, code: str, fingerprint: str, timeout: float = 15.0) -> dict[str, Any]:
    url = backend.rstrip("/") + "/v1/provision"
    body = {"enrollment_code": code, "fingerprint": fingerprint, "hostname": socket.gethostname()}
    try:
        response = requests.post(url, json=body, timeout=timeout)
    except requests.RequestException as exc:
        raise ProvisionError(
            1,
            f"backend unreachable at {url} ({type(exc).__name__})",
            "check the URL, the network and any proxy; `shelf-edge doctor` checks the backend too",
        ) from None
    if response.status_code in (404, 409):
        try:
            detail = str(response.json().get("detail", ""))
        except ValueError:
            detail = response.text[:200]
        raise ProvisionError(
            3, f"enrollment code refused: {detail}", "type the code again, or ask central IT for a new one"
        )
    if response.status_code != 200:
        raise ProvisionError(
            1,
            f"{url} answered HTTP {response.status_code}",
            "try again later; tell central IT if it persists",
        )
    try:
        answer: dict[str, Any] = response.json()
        for key in ("store_id", "gateway_id", "token", "config"):
            answer[key]
    except (ValueError, KeyError, TypeError):
        raise ProvisionError(
            1, f"{url} sent an unexpected answer", "is the URL the smart-shelf backend?"
        ) from None
    return answer


def merge_config(
    current: dict[str, Any], answer: dict[str, Any], backend: str, key_file: PurePosixPath | None
) -> dict[str, Any]:
    """Backend sections replace local ones; identity and backend access come from the answer."""
    merged = {k: v for k, v in current.items()}
    for section, value in answer["config"].items():
        merged[section] = value
    merged["gateway"] = {
        **merged.get("gateway", {}),
        "store_id": answer["store_id"],
        "gateway_id": answer["gateway_id"],
    }
    backend_section = {**merged.get("backend", {}), "url": backend.rstrip("/"), "token": answer["token"]}
    if key_file is not None:
        backend_section["release_public_key"] = str(key_file)
    merged["backend"] = backend_section
    return merged


def provision(
    root: Path,
    backend: str,
    code: str,
    layout: units.Layout | None = None,
    run_install: bool = True,
    system: bool = False,
) -> Provisioned:
    layout = layout or units.Layout()
    config_path = under(root, layout.config_file)
    pki = under(root, layout.pki_dir)
    fingerprint = identity_fingerprint(pki)
    answer = request_provision(backend, code, fingerprint)
    password = None
    if config_path.exists():
        try:
            text = config_path.read_text()
            document = tomlkit.parse(text)
        except (OSError, TOMLKitError) as exc:
            raise ProvisionError(
                2, f"{config_path}: {exc}", f"fix or move {config_path} aside and run again"
            ) from None
    else:
        password, hashed = new_dashboard_password()
        text = f"# Provisioned by {backend.rstrip('/')}.\n" + initial_config(
            layout, answer["store_id"], answer["gateway_id"], 8883, hashed
        )
        document = tomlkit.parse(text)
    current = document.unwrap()
    key_target = layout.etc_dir / "release-key.pem" if answer.get("release_public_key") else None
    merged = merge_config(current, answer, backend, key_target)
    try:
        parse_config(merged, str(config_path))
    except ConfigError as exc:
        raise ProvisionError(
            1, f"the backend's config is not valid here:\n{exc}", "tell central IT (the enrollment's config)"
        ) from None
    if key_target is not None:
        path = under(root, key_target)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(answer["release_public_key"])
        path.chmod(0o644)
    # Edited in place: the technician's comments and layout stay; only changed values are rewritten.
    update_document(document, merged)
    write_atomic(config_path, tomlkit.dumps(document), 0o640)
    if run_install:
        install(
            InstallOptions(
                root=root, store_id=answer["store_id"], gateway_id=answer["gateway_id"], system=system
            ),
            layout,
        )
    return Provisioned(answer["store_id"], answer["gateway_id"], config_path, fingerprint, password)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", required=True, help="Base URL of the central backend.")
    parser.add_argument("--enrollment-code", required=True, help="One-time code from central IT.")
    parser.add_argument("--root", type=Path, default=Path("/"), help="Install root (default /).")
    parser.add_argument(
        "--no-install", action="store_true", help="Only write the config; do not re-run install."
    )


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    root: Path = args.root.resolve()
    try:
        done = provision(
            root,
            args.backend,
            args.enrollment_code.strip(),
            run_install=not args.no_install,
            system=str(root) == "/",
        )
    except ProvisionError as exc:
        console.print(f"[red]provisioning failed:[/red] {exc.message}\n  fix: {exc.fix}")
        return exc.exit_code
    except ConfigError as exc:
        console.print(f"[red]provisioning failed: the local configuration is not valid[/red]\n{exc}")
        return 2
    console.print(
        f"[green]provisioned[/green]: store {done.store_id}, gateway {done.gateway_id} "
        f"(identity {done.fingerprint[:16]}…); config {done.config_file}"
    )
    if done.dashboard_password:
        console.print(
            f"dashboard password (shown this once; the config keeps only its hash): {done.dashboard_password}"
        )
    console.print("next: `sudo shelf-edge doctor`")
    return 0
