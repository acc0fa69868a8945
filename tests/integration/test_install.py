"""Install into a scratch root, verify the units with systemd-analyze, run the real Mosquitto on the
generated TLS configuration and check the ACLs with real mutual-TLS paho clients."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.cli import main as shelf_edge
from edge.config import load_config
from simulators.broker import free_port, mosquitto_binary
from tests.support.passwords import assert_password_shown_once_and_only_its_hash_kept
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

STORE = "store-042"
WS_PORTS: dict[Path, int] = {}
CONFIG = """\
[gateway]
store_id = "store-042"
gateway_id = "gw-1"
data_dir = "/var/lib/smartshelf"
[mqtt]
host = "localhost"
port = {port}
[mqtt.tls]
ca_file = "/etc/smartshelf/pki/ca.crt"
cert_file = "/etc/smartshelf/pki/clients/gw-1.crt"
key_file = "/etc/smartshelf/pki/clients/gw-1.key"
[[displays]]
display_id = "d-1"
gondola = 1
shelf = 1
[[displays]]
display_id = "d-2"
gondola = 1
shelf = 2
[[displays]]
display_id = "d-3"
gondola = 1
shelf = 1
transport = "serial"
[bridge]
bridge_id = "bridge-1"
[[bridge.shelves]]
port = "/dev/serial/by-id/shelf-1-1"
gondola = 1
shelf = 1
[presence.receivers]
rx-1 = "1/1"
"""


def offer_topic(display: str, shelf: int) -> str:
    return f"smartshelf/{STORE}/1/{shelf}/display/{display}/offer"


@pytest.fixture(scope="module")
def installed() -> Iterator[tuple[Path, int]]:
    # Traversable by others: mosquitto started as root drops to its own user before reading files.
    base = Path(tempfile.mkdtemp(prefix="smartshelf-install-"))
    base.chmod(0o755)
    root = base / "root"
    port = free_port()
    ws_port = free_port()
    seed = base / "seed.toml"
    seed.write_text(CONFIG.format(port=port))
    rc = shelf_edge(
        [
            "install",
            "--root",
            str(root),
            "--config-from",
            str(seed),
            "--mqtt-port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--websockets-port",
            str(ws_port),
        ]
    )
    assert rc == 0
    WS_PORTS[root] = ws_port
    yield root, port
    shutil.rmtree(base, ignore_errors=True)


def test_layout_and_permissions(installed: tuple[Path, int]) -> None:
    root, _ = installed
    config = load_config(root / "etc/smartshelf/edge.toml")
    assert config.gateway.store_id == STORE
    for name in ("gw-1", "bridge-1", "d-1", "d-2", "rx-1", "technician"):
        assert (root / f"etc/smartshelf/pki/clients/{name}.crt").exists()
        assert (root / f"etc/smartshelf/pki/clients/{name}.key").stat().st_mode & 0o077 == 0
    assert (root / "etc/smartshelf/pki/ca.key").stat().st_mode & 0o077 == 0
    assert (root / "var/lib/smartshelf").is_dir()
    unit = (root / "etc/systemd/system/smartshelf-edge.service").read_text()
    for line in (
        "Restart=on-failure",
        "User=smartshelf",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/smartshelf",
        "SupplementaryGroups=dialout bluetooth video",
        "NoNewPrivileges=yes",
        "Type=notify",
        "WatchdogSec=30s",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "SystemCallFilter=@system-service",
        "CapabilityBoundingSet=\n",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_BLUETOOTH",
        "DeviceAllow=char-video4linux rw",
    ):
        assert line in unit
    bridge = (root / "etc/systemd/system/smartshelf-bridge.service").read_text()
    assert "SHELF_EDGE_MQTT__TLS__CERT_FILE=/etc/smartshelf/pki/clients/bridge-1.crt" in bridge
    for line in (
        "Type=notify",
        "WatchdogSec=30s",
        "SystemCallFilter=@system-service",
        "ProtectSystem=strict",
    ):
        assert line in bridge


def _fake_venv(root: Path) -> None:
    """What deploy/install.sh's venv step leaves: executables in /opt/smartshelf/venv/bin."""
    bindir = root / "opt/smartshelf/venv/bin"
    bindir.mkdir(parents=True, exist_ok=True)
    for command in ("shelf-edge", "shelf-bridge"):
        script = bindir / command
        script.write_text(f'#!/bin/sh\nexec {Path(sys.executable).parent / command} "$@"\n')
        script.chmod(0o755)


def test_units_verify_with_systemd_analyze(installed: tuple[Path, int]) -> None:
    root, _ = installed
    _fake_venv(root)
    # The target OS provides its own units (sysinit.target, mosquitto.service, ...): use this host's.
    shutil.copytree(
        "/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True, dirs_exist_ok=True
    )
    verify = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            "--man=no",
            f"--root={root}",
            "smartshelf-edge.service",
            "smartshelf-bridge.service",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stderr
    assert verify.stderr.strip() == "", verify.stderr
    security = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", f"--root={root}", "smartshelf-bridge.service"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Overall exposure level for smartshelf-bridge.service" in security.stdout, security.stderr
    for name in ("smartshelf-edge.service", "smartshelf-bridge.service"):
        report = subprocess.run(
            ["systemd-analyze", "security", "--offline=yes", f"--root={root}", name],
            capture_output=True,
            text=True,
            timeout=60,
        )
        exposure = float(report.stdout.rsplit(f"{name}:", 1)[1].split()[0])
        assert exposure <= 2.0, report.stdout  # 3.8 and 3.4 before Type=notify and the syscall filter
    sysusers = subprocess.run(
        ["systemd-sysusers", f"--root={root}"], capture_output=True, text=True, timeout=30
    )
    assert sysusers.returncode == 0, sysusers.stderr
    assert "smartshelf:" in (root / "etc/passwd").read_text()
    group = (root / "etc/group").read_text()
    assert any(line.startswith("dialout:") and "smartshelf" in line for line in group.splitlines())


def test_upgrade_keeps_config_data_and_certs(installed: tuple[Path, int]) -> None:
    root, _ = installed
    config_file = root / "etc/smartshelf/edge.toml"
    config_file.write_text(config_file.read_text() + '\n[logging]\nlevel = "DEBUG"\n')
    (root / "var/lib/smartshelf/edge.sqlite").write_bytes(b"data")
    cert = (root / "etc/smartshelf/pki/clients/d-1.crt").read_bytes()
    conf = (root / "etc/mosquitto/conf.d/smartshelf.conf").read_text()
    assert shelf_edge(["install", "--root", str(root)]) == 0  # broker options remembered
    assert (root / "etc/mosquitto/conf.d/smartshelf.conf").read_text() == conf
    assert 'level = "DEBUG"' in config_file.read_text()
    assert (root / "var/lib/smartshelf/edge.sqlite").read_bytes() == b"data"
    assert (root / "etc/smartshelf/pki/clients/d-1.crt").read_bytes() == cert


def test_bad_config_stops_the_install(tmp_path: Path) -> None:
    seed = tmp_path / "bad.toml"
    seed.write_text('[gateway]\nstore_id = "s"\nbogus = 1\n')
    assert shelf_edge(["install", "--root", str(tmp_path / "r"), "--config-from", str(seed)]) == 2


@pytest.fixture(scope="module")
def tls_broker(installed: tuple[Path, int]) -> Iterator[tuple[Path, int]]:
    root, port = installed
    conf = (root / "etc/mosquitto/conf.d/smartshelf.conf").read_text()
    # The same file, with its absolute target paths pointing into the scratch root.
    conf = conf.replace("/etc/mosquitto/", f"{root}/etc/mosquitto/").replace(
        "log_dest syslog", "log_dest stderr"
    )
    path = root.parent / "mosquitto-test.conf"
    path.write_text(conf)
    proc = subprocess.Popen([mosquitto_binary(), "-c", str(path)], stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: _probe(port) or proc.poll() is not None, 10, what="mosquitto TLS listener")
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        yield root, port
    finally:
        proc.terminate()
        proc.wait(10)


def _probe(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Client:
    """A paho MQTT 5 client with a certificate from the scratch root's PKI."""

    def __init__(self, root: Path, port: int, name: str, transport: str = "tcp") -> None:
        pki = root / "etc/smartshelf/pki"
        self.messages: list[tuple[str, bytes]] = []
        self.subacks: dict[int, list[int]] = {}
        self.pubacks: dict[int, int] = {}
        self.connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"test-{name}-{transport}",
            protocol=mqtt.MQTTv5,
            transport=transport,
        )
        self.client.tls_set(
            ca_certs=str(pki / "ca.crt"),
            certfile=str(pki / f"clients/{name}.crt"),
            keyfile=str(pki / f"clients/{name}.key"),
            cert_reqs=ssl.CERT_REQUIRED,
        )
        self.client.on_connect = lambda c, u, f, rc, p: self.connected.set() if not rc.is_failure else None
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        self.client.on_subscribe = lambda c, u, mid, codes, p: self.subacks.__setitem__(
            mid, [r.value for r in codes]
        )
        self.client.on_publish = lambda c, u, mid, rc, p: self.pubacks.__setitem__(mid, rc.value)
        self.client.connect("localhost", port)
        self.client.loop_start()
        assert self.connected.wait(10), f"{name} could not connect"

    def subscribe(self, topic: str) -> int:
        mid = self.client.subscribe(topic, qos=1)[1]
        return wait_until(lambda: self.subacks.get(mid), 10, what=f"SUBACK {topic}")[0]

    def publish(self, topic: str, payload: bytes) -> int:
        props = Properties(PacketTypes.PUBLISH)
        mid = self.client.publish(topic, payload, qos=1, properties=props).mid
        wait_until(lambda: mid in self.pubacks, 10, what=f"PUBACK {topic}")
        return self.pubacks[mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_display_acl_with_real_tls(tls_broker: tuple[Path, int]) -> None:
    root, port = tls_broker
    gateway, d1 = Client(root, port, "gw-1"), Client(root, port, "d-1")
    try:
        assert d1.subscribe(offer_topic("d-1", 1)) == 1  # granted QoS 1
        # Mosquitto 2.0 grants these subscriptions but its ACL filters every delivery on them.
        d1.subscribe(offer_topic("d-2", 2))
        d1.subscribe(f"smartshelf/{STORE}/#")
        assert gateway.subscribe(f"smartshelf/{STORE}/+/+/display/+/#") == 1
        # Only the gateway may publish offers: the display's attempts are refused and never delivered.
        d1.publish(offer_topic("d-1", 1), b"forged")
        d1.publish(offer_topic("d-2", 2), b"forged")
        assert d1.publish(f"smartshelf/{STORE}/1/1/display/d-1/ack", b"ack") == 0
        wait_until(lambda: any(t.endswith("/ack") for t, _ in gateway.messages), 10, what="ack at gateway")
        # The gateway's offers: d-2's first, then d-1's; d-1 must see only its own.
        assert gateway.publish(offer_topic("d-2", 2), b"for-d2") == 0
        assert gateway.publish(offer_topic("d-1", 1), b"for-d1") == 0
        wait_until(lambda: (offer_topic("d-1", 1), b"for-d1") in d1.messages, 10, what="own offer at d-1")
        assert b"forged" not in [payload for _, payload in gateway.messages + d1.messages]
        assert b"for-d2" not in [payload for _, payload in d1.messages]
        # The gateway's own subscription saw its offers, proving they were really published.
        wait_until(lambda: (offer_topic("d-2", 2), b"for-d2") in gateway.messages, 10, what="d-2 offer")
    finally:
        gateway.close()
        d1.close()


def test_each_device_class_may_publish_only_its_own_topics(tls_broker: tuple[Path, int]) -> None:
    root, port = tls_broker
    base = f"smartshelf/{STORE}"
    gateway = Client(root, port, "gw-1")
    devices = {name: Client(root, port, name) for name in ("rx-1", "d-1", "bridge-1")}
    try:
        assert gateway.subscribe(f"{base}/#") == 1
        forbidden = {
            "rx-1": [
                f"{base}/1/1/display/rx-1/ack",  # a receiver is no display, whatever its name
                f"{base}/1/1/display/d-1/ack",
                f"{base}/1/1/samples",
                f"{base}/ble/rx-2/sightings",
            ],
            "d-1": [
                f"{base}/1/2/display/d-1/ack",  # its own id under another shelf's topic
                f"{base}/1/2/display/d-2/ack",
                f"{base}/1/1/display/d-1/offer",
                f"{base}/1/1/samples",
            ],
            "bridge-1": [
                f"{base}/1/2/samples",  # not one of its shelves
                f"{base}/1/2/status",
                f"{base}/1/1/display/d-1/ack",  # d-1 is an MQTT display: it acks for itself
                f"{base}/1/1/display/d-3/offer",
            ],
        }
        allowed = {
            "rx-1": f"{base}/ble/rx-1/sightings",
            "d-1": f"{base}/1/1/display/d-1/ack",
            "bridge-1": f"{base}/1/1/display/d-3/ack",  # the serial display on its shelf
        }
        for name, client in devices.items():
            for topic in forbidden[name]:
                client.publish(topic, f"forged-by-{name}".encode())
            # after its forgeries, each client's allowed message: once it arrived, the others would have
            assert client.publish(allowed[name], f"allowed-{name}".encode()) == 0
        for name in devices:
            wait_until(
                lambda name=name: (allowed[name], f"allowed-{name}".encode()) in gateway.messages,
                10,
                what=f"{name}'s allowed message",
            )
        forged = [(t, p) for t, p in gateway.messages if p.startswith(b"forged-by-")]
        assert forged == []
    finally:
        gateway.close()
        for client in devices.values():
            client.close()


def test_browser_display_over_secure_websockets(tls_broker: tuple[Path, int]) -> None:
    from cryptography.hazmat.primitives.serialization import pkcs12

    root, port = tls_broker
    clients = root / "etc/smartshelf/pki/clients"
    bundle = pkcs12.load_key_and_certificates(
        (clients / "d-2.p12").read_bytes(), (clients / "d-2.p12.password").read_text().strip().encode()
    )
    assert bundle[1] is not None and "d-2" in bundle[1].subject.rfc4514_string()
    assert (clients / "d-2.p12").stat().st_mode & 0o077 == 0
    gateway, d2 = Client(root, port, "gw-1"), Client(root, WS_PORTS[root], "d-2", transport="websockets")
    try:
        assert d2.subscribe(offer_topic("d-2", 2)) == 1
        d2.subscribe(offer_topic("d-1", 1))
        assert gateway.publish(offer_topic("d-1", 1), b"not-for-d2") == 0
        assert gateway.publish(offer_topic("d-2", 2), b"for-d2") == 0
        wait_until(lambda: (offer_topic("d-2", 2), b"for-d2") in d2.messages, 10, what="offer over wss")
        assert b"not-for-d2" not in [p for _, p in d2.messages]
    finally:
        gateway.close()
        d2.close()


def test_client_without_store_certificate_is_refused(tls_broker: tuple[Path, int], tmp_path: Path) -> None:
    from edge.ops.pki import StoreCA

    _, port = tls_broker
    rogue = StoreCA(tmp_path, STORE)
    rogue.ensure_ca()
    issued = rogue.ensure_client("gw-1")
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="rogue", protocol=mqtt.MQTTv5)
    ca_file = tls_broker[0] / "etc/smartshelf/pki/ca.crt"
    client.tls_set(ca_certs=str(ca_file), certfile=str(issued.cert), keyfile=str(issued.key))
    outcome: list[str] = []
    client.on_connect = lambda c, u, f, rc, p: outcome.append("connected" if not rc.is_failure else "refused")
    client.on_disconnect = lambda c, u, f, rc, p: outcome.append("disconnected")
    client.on_connect_fail = lambda c, u: outcome.append("failed")
    try:
        client.connect("localhost", port)
    except (ssl.SSLError, OSError):
        outcome.append("failed")
    client.loop_start()
    try:
        wait_until(lambda: outcome, 10, what="the broker's verdict on a foreign certificate")
        assert "connected" not in outcome
    finally:
        client.loop_stop()


def test_install_sh_runs_the_installer(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _fake_venv(root)
    script = Path(__file__).resolve().parents[2] / "deploy/install.sh"
    done = subprocess.run(
        ["bash", str(script), "--root", str(root), "--skip-venv", "--store-id", "store-777"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "install done" in done.stderr
    config = load_config(root / "etc/smartshelf/edge.toml")
    assert config.gateway.store_id == "store-777"
    assert_password_shown_once_and_only_its_hash_kept(done.stderr, root, config.web.password)
    assert "smartshelf/store-777/#" in (root / "etc/mosquitto/smartshelf.acl").read_text()


def test_bridge_unit_environment_selects_the_bridge_certificate(
    installed: tuple[Path, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, port = installed
    unit = (root / "etc/systemd/system/smartshelf-bridge.service").read_text()
    for line in unit.splitlines():
        if line.startswith("Environment=SHELF_EDGE_MQTT__TLS__"):
            key, _, value = line.removeprefix("Environment=").partition("=")
            monkeypatch.setenv(key, value)
    config = load_config(root / "etc/smartshelf/edge.toml")  # the file plus the unit's environment
    assert config.mqtt.tls is not None
    assert str(config.mqtt.tls.cert_file) == "/etc/smartshelf/pki/clients/bridge-1.crt"
    assert str(config.mqtt.tls.key_file) == "/etc/smartshelf/pki/clients/bridge-1.key"
    assert config.mqtt.port == port and str(config.mqtt.tls.ca_file) == "/etc/smartshelf/pki/ca.crt"
