"""``shelf-edge provision`` against the reference backend (real HTTP): enrollment code in, store id,
token, release key and initial config out, written with safe permissions; idempotent; clear errors."""

from __future__ import annotations

import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.cli import main as shelf_edge
from edge.config import load_config
from simulators.backend.server import BackendServer
from simulators.broker import free_port
from tests.support.passwords import assert_password_shown_once_and_only_its_hash_kept

pytestmark = pytest.mark.integration
ADMIN = "admin-token-for-tests"
CODE = "ENROLL-7Q4X-2026"


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[BackendServer]:
    server = BackendServer(tmp_path / "backend.db")
    server.add_token(ADMIN, "admin")
    server.start()
    release_key = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    enrollment = {
        "code": CODE,
        "store_id": "store-042",
        "gateway_id": "gw-7",
        "release_public_key": release_key.decode(),
        "config": {
            "displays": [{"display_id": "d-g1s1", "gondola": 1, "shelf": 1}],
            "bridge": {
                "bridge_id": "bridge-7",
                "shelves": [{"port": "/dev/ttyUSB0", "gondola": 1, "shelf": 1}],
            },
            "presence": {"source": "mqtt-receivers", "receivers": {"rx-g1s1": "1/1"}},
        },
    }
    answer = requests.post(
        f"{server.url}/v1/enrollments",
        json=enrollment,
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    try:
        yield server
    finally:
        server.close()


def provision(root: Path, url: str, code: str = CODE) -> int:
    return shelf_edge(["provision", "--root", str(root), "--backend", url, "--enrollment-code", code])


def test_provision_writes_identity_config_and_certificates(
    backend: BackendServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "gw"
    assert provision(root, backend.url) == 0
    config_file = root / "etc/smartshelf/edge.toml"
    config = load_config(config_file)
    assert_password_shown_once_and_only_its_hash_kept(capsys.readouterr().err, root, config.web.password)
    assert config.gateway.store_id == "store-042" and config.gateway.gateway_id == "gw-7"
    assert config.backend.url == backend.url and config.backend.token
    assert [d.display_id for d in config.displays] == ["d-g1s1"]
    assert config.bridge.bridge_id == "bridge-7"
    assert str(config.backend.release_public_key) == "/etc/smartshelf/release-key.pem"
    assert (root / "etc/smartshelf/release-key.pem").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o640
    assert stat.S_IMODE((root / "etc/smartshelf/pki/identity.key").stat().st_mode) == 0o600
    # install ran for the provisioned store: certificates for the new clients, ACL for the store
    for client in ("gw-7", "bridge-7", "d-g1s1", "rx-g1s1"):
        assert (root / f"etc/smartshelf/pki/clients/{client}.crt").exists()
    assert "smartshelf/store-042/#" in (root / "etc/mosquitto/smartshelf.acl").read_text()
    # the token is accepted by the backend for this store
    token = {"Authorization": f"Bearer {config.backend.token}"}
    assert (
        requests.get(f"{backend.url}/v1/stores/store-042/catalogue", headers=token, timeout=5).status_code
        != 401
    )
    assert (
        requests.get(f"{backend.url}/v1/stores/other/catalogue", headers=token, timeout=5).status_code == 403
    )

    # idempotent: the same gateway provisioning again gets the same token, files unchanged
    before = config_file.read_bytes()
    assert provision(root, backend.url) == 0
    assert config_file.read_bytes() == before
    assert "dashboard password" not in capsys.readouterr().err  # the config was kept: nothing new to show


def test_local_sections_are_kept(backend: BackendServer, tmp_path: Path) -> None:
    root = tmp_path / "gw"
    assert shelf_edge(["install", "--root", str(root), "--store-id", "unprovisioned"]) == 0
    config_file = root / "etc/smartshelf/edge.toml"
    config_file.write_text(config_file.read_text().replace('level = "INFO"', 'level = "DEBUG"'))
    assert provision(root, backend.url) == 0
    data = tomllib.loads(config_file.read_text())
    assert data["logging"]["level"] == "DEBUG" and data["gateway"]["store_id"] == "store-042"


def test_wrong_or_reused_code_and_unreachable_backend(
    backend: BackendServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert provision(tmp_path / "a", backend.url, "WRONG-CODE-0000") == 3
    assert "unknown enrollment code" in capsys.readouterr().err
    assert provision(tmp_path / "a", backend.url) == 0
    # another gateway (another identity key) cannot reuse the code
    assert provision(tmp_path / "b", backend.url) == 3
    assert "used by another gateway" in capsys.readouterr().err
    assert provision(tmp_path / "c", f"http://127.0.0.1:{free_port()}") == 1
    err = capsys.readouterr().err
    assert "backend unreachable" in err and "fix:" in err
    assert not (tmp_path / "c/etc/smartshelf/edge.toml").exists()


def test_the_technicians_comments_survive_provisioning(backend: BackendServer, tmp_path: Path) -> None:
    root = tmp_path / "gw"
    assert shelf_edge(["install", "--root", str(root), "--store-id", "unprovisioned"]) == 0
    config_file = root / "etc/smartshelf/edge.toml"
    text = config_file.read_text().replace(
        'level = "INFO"', 'level = "DEBUG"   # until the scale on g1/s2 is replaced (ticket 4711)'
    )
    text = text.replace("[web]", "# Dashboard: the store manager has the password.\n[web]")
    config_file.write_text(text + "\n# Local notes: the router is in the back office.\n")
    assert provision(root, backend.url) == 0
    written = config_file.read_text()
    for comment in (
        'level = "DEBUG"   # until the scale on g1/s2 is replaced (ticket 4711)',
        "# Dashboard: the store manager has the password.\n[web]",
        "# Local notes: the router is in the back office.",
        "# Gateway configuration written by `shelf-edge install`; kept on upgrade.",
    ):
        assert comment in written
    data = tomllib.loads(written)
    assert data["gateway"]["store_id"] == "store-042" and data["gateway"]["gateway_id"] == "gw-7"
    assert data["bridge"]["bridge_id"] == "bridge-7" and data["displays"][0]["display_id"] == "d-g1s1"
    assert load_config(config_file).backend.url == backend.url
