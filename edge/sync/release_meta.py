"""Signed model release metadata (Ed25519), verified before anything of a release is trusted.

The metadata (JSON)::

    {"signed": {"model": "offers", "version": 7, "created_at": ..., "expires_at": ...,
                "files": [{"name": "offer_model.onnx", "sha256": "...", "size": 12345}, ...]},
     "signatures": [{"keyid": "<sha256 of the raw public key, 16 hex>", "sig": "<base64>"}]}

The signature covers the canonical JSON of ``signed`` (sorted keys, no spaces, UTF-8). A gateway
refuses metadata that is malformed, not signed by its trusted key, expired (freeze attack), or older
than the version it runs (rollback attack); a file whose size or SHA-256 differs from the metadata
is refused after download (arbitrary artifact / mix-and-match).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import Field, ValidationError

from edge.errors import EdgeError
from edge.settings_base import Section

RejectReason = Literal[
    "malformed", "signature", "expired", "rollback", "size", "hash", "contract", "golden", "load", "download"
]


class ReleaseRejected(EdgeError):
    """A release was refused; ``reason`` is a stable code, ``detail`` says what exactly."""

    def __init__(self, model: str, version: int | None, reason: RejectReason, detail: str) -> None:
        self.model = model
        self.version = version
        self.reason = reason
        self.detail = detail
        v = f" v{version}" if version is not None else ""
        super().__init__(f"release {model}{v} refused ({reason}): {detail}")


class FileEntry(Section):
    name: str = Field(pattern=r"^[A-Za-z0-9._-]{1,128}$", description="File name inside the release.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the file, hex.")
    size: int = Field(ge=0, description="Size in bytes.")


class ReleaseSigned(Section):
    """The signed part of release metadata."""

    model: str = Field(pattern=r"^[a-z0-9-]{1,64}$", description="Model family, e.g. 'offers'.")
    version: int = Field(ge=1, description="Release version; gateways never go back to a lower one.")
    created_at: float = Field(description="Unix time the release was made.")
    expires_at: float = Field(description="Unix time after which the metadata must not be trusted.")
    files: list[FileEntry] = Field(min_length=1, description="Every file of the release.")


class Signature(Section):
    keyid: str = Field(description="SHA-256 (hex, first 16) of the raw Ed25519 public key.")
    sig: str = Field(description="Ed25519 signature of the canonical JSON of 'signed', base64.")


class ReleaseMetadata(Section):
    """Signed release metadata (TUF-like, one role)."""

    signed: ReleaseSigned = Field(description="What is signed.")
    signatures: list[Signature] = Field(min_length=1, description="Signatures over 'signed'.")


def canonical(signed: ReleaseSigned) -> bytes:
    return json.dumps(signed.model_dump(), sort_keys=True, separators=(",", ":")).encode()


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def write_keypair(private_path: Path, public_path: Path) -> Ed25519PrivateKey:
    """Create a new signing key (private PEM, mode 0600) and its public PEM."""
    key = Ed25519PrivateKey.generate()
    private_path.parent.mkdir(parents=True, exist_ok=True)
    private_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    private_path.chmod(0o600)
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key


def file_entry(path: Path) -> FileEntry:
    data = path.read_bytes()
    return FileEntry(name=path.name, sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def sign(signed: ReleaseSigned, key: Ed25519PrivateKey) -> bytes:
    """Signed metadata as the JSON bytes the backend serves."""
    sig = base64.b64encode(key.sign(canonical(signed))).decode()
    meta = ReleaseMetadata(signed=signed, signatures=[Signature(keyid=key_id(key.public_key()), sig=sig)])
    return meta.model_dump_json().encode()


@dataclass(frozen=True, slots=True)
class Trust:
    """What a gateway trusts and where it stands: the key, and the version it runs."""

    public_key: Ed25519PublicKey
    current_version: int


def verify(raw: bytes, trust: Trust, now: float, model: str) -> ReleaseSigned:
    """Check metadata bytes: shape, signature by the trusted key, expiry, no rollback."""
    try:
        meta = ReleaseMetadata.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "<metadata>"
        raise ReleaseRejected(model, None, "malformed", f"{where}: {first['msg']}") from None
    signed = meta.signed
    if signed.model != model:
        raise ReleaseRejected(model, signed.version, "malformed", f"metadata is for model {signed.model!r}")
    kid = key_id(trust.public_key)
    message = canonical(signed)
    good = False
    for s in meta.signatures:
        if s.keyid != kid:
            continue
        try:
            trust.public_key.verify(base64.b64decode(s.sig, validate=True), message)
            good = True
        except (InvalidSignature, ValueError):
            continue
    if not good:
        raise ReleaseRejected(model, signed.version, "signature", f"no valid signature by trusted key {kid}")
    if signed.expires_at <= now:
        raise ReleaseRejected(
            model, signed.version, "expired", f"metadata expired {now - signed.expires_at:.0f} s ago"
        )
    if signed.version < trust.current_version:
        raise ReleaseRejected(
            model,
            signed.version,
            "rollback",
            f"version {signed.version} is older than the running version {trust.current_version}",
        )
    return signed


def check_file(model: str, version: int, entry: FileEntry, path: Path) -> None:
    """Refuse a downloaded file whose size or SHA-256 differs from its signed entry."""
    size = path.stat().st_size
    if size != entry.size:
        raise ReleaseRejected(
            model, version, "size", f"{entry.name}: {size} bytes, metadata says {entry.size}"
        )
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    if h.hexdigest() != entry.sha256:
        raise ReleaseRejected(model, version, "hash", f"{entry.name}: sha256 {h.hexdigest()[:16]}... differs")
