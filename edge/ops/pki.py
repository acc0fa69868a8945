"""The store's small certificate authority: a CA, the broker's server certificate, one client
certificate per MQTT client (gateway, bridge, each display, each BLE receiver).

Mosquitto runs with ``use_identity_as_username true``: the certificate's common name IS the MQTT
user name the ACL file (:mod:`edge.ops.mosquitto_conf`) grants topics to. Keys are EC P-256 and are
written 0600; certificates 0644. Existing files are kept, so re-running the installer (upgrade)
never re-keys a store unless asked to.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from edge.atomic_file import write_atomic

CA_DAYS = 3650
LEAF_DAYS = 825


@dataclass(frozen=True, slots=True)
class Issued:
    """Paths of one issued certificate and its key."""

    cert: Path
    key: Path


def _write(path: Path, data: bytes, mode: int) -> None:
    write_atomic(path, data, mode)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common_name: str, store_id: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "smartshelf"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, store_id),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


class StoreCA:
    """The CA of one store, kept in ``directory`` (ca.crt, ca.key, server.*, clients/<cn>.*)."""

    def __init__(self, directory: Path, store_id: str) -> None:
        self.directory = Path(directory)
        self.store_id = store_id
        self.ca_cert_path = self.directory / "ca.crt"
        self.ca_key_path = self.directory / "ca.key"

    def ensure_ca(self, now: dt.datetime | None = None) -> None:
        """Create the CA unless it already exists."""
        if self.ca_cert_path.exists() and self.ca_key_path.exists():
            return
        now = now or dt.datetime.now(dt.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        name = _name(f"smartshelf {self.store_id} CA", self.store_id)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write(self.ca_key_path, _key_pem(key), 0o600)
        _write(self.ca_cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)

    def _load_ca(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        cert = x509.load_pem_x509_certificate(self.ca_cert_path.read_bytes())
        key = serialization.load_pem_private_key(self.ca_key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TypeError(f"{self.ca_key_path}: expected an EC private key")
        return cert, key

    def _issue(
        self,
        cert_path: Path,
        key_path: Path,
        common_name: str,
        server_names: tuple[str, ...],
        server: bool,
        now: dt.datetime | None,
        force: bool,
    ) -> Issued:
        if cert_path.exists() and key_path.exists() and not force:
            return Issued(cert_path, key_path)
        now = now or dt.datetime.now(dt.UTC)
        ca_cert, ca_key = self._load_ca()
        key = ec.generate_private_key(ec.SECP256R1())
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name, self.store_id))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
        )
        if server:
            alt: list[x509.GeneralName] = []
            for entry in server_names:
                try:
                    alt.append(x509.IPAddress(ipaddress.ip_address(entry)))
                except ValueError:
                    alt.append(x509.DNSName(entry))
            builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        _write(key_path, _key_pem(key), 0o600)
        _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
        return Issued(cert_path, key_path)

    def ensure_server(
        self, names: tuple[str, ...], now: dt.datetime | None = None, force: bool = False
    ) -> Issued:
        """The broker's certificate, valid for ``names`` (host names and IP addresses)."""
        return self._issue(
            self.directory / "server.crt",
            self.directory / "server.key",
            names[0],
            names,
            server=True,
            now=now,
            force=force,
        )

    def ensure_client(self, common_name: str, now: dt.datetime | None = None, force: bool = False) -> Issued:
        """A client certificate whose common name becomes the MQTT user name."""
        return self._issue(
            self.directory / "clients" / f"{common_name}.crt",
            self.directory / "clients" / f"{common_name}.key",
            common_name,
            (),
            server=False,
            now=now,
            force=force,
        )


def ensure_pkcs12(issued: Issued, ca_cert: Path, name: str) -> tuple[Path, Path]:
    """A PKCS#12 bundle (key, certificate, store CA) for a browser's certificate store, encrypted with
    a random password kept next to it (both 0600). Kept when present."""
    import secrets

    from cryptography.hazmat.primitives.serialization import pkcs12

    bundle = issued.cert.with_suffix(".p12")
    secret = issued.cert.with_suffix(".p12.password")
    if bundle.exists() and secret.exists():
        return bundle, secret
    password = secrets.token_urlsafe(12)
    key = serialization.load_pem_private_key(issued.key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"{issued.key}: expected an EC private key")
    data = pkcs12.serialize_key_and_certificates(
        name.encode(),
        key,
        x509.load_pem_x509_certificate(issued.cert.read_bytes()),
        [x509.load_pem_x509_certificate(ca_cert.read_bytes())],
        serialization.BestAvailableEncryption(password.encode()),
    )
    _write(bundle, data, 0o600)
    _write(secret, (password + "\n").encode(), 0o600)
    return bundle, secret


def certificate_summary(path: Path) -> tuple[str, dt.datetime]:
    """(common name, not-valid-after) of a PEM certificate."""
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return (str(cn[0].value) if cn else "", cert.not_valid_after_utc)
