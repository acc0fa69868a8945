"""``shelf-edge install``: lay a gateway out under a root directory (``/`` on a real gateway).

What it writes (target paths; under ``--root`` when given):

- ``/etc/smartshelf/edge.toml``: created for a new gateway, KEPT on upgrade (validated).
- ``/etc/smartshelf/pki/``: store CA, broker server cert, client certs (kept unless ``--renew-certs``).
- ``/etc/mosquitto/conf.d/smartshelf.conf`` + ``/etc/smartshelf/mosquitto.acl``: regenerated.
- ``/etc/systemd/system/smartshelf-{edge,bridge}.service``, ``/etc/sysusers.d/smartshelf.conf``,
  ``/etc/tmpfiles.d/smartshelf.conf``, ``/etc/systemd/journald.conf.d/smartshelf.conf``: regenerated.
- ``/var/lib/smartshelf``: created, never touched otherwise (database, models).

The virtualenv in ``/opt/smartshelf/venv`` is made by ``deploy/install.sh`` before this runs. On the
real root (``--root /``) it then creates the user, fixes owners and enables the services.
"""

from __future__ import annotations

import argparse
import datetime as dt
import grp
import os
import secrets
import shutil
import socket
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from rich.console import Console
from rich.markup import escape

from edge import __version__
from edge.atomic_file import write_atomic
from edge.config import EdgeConfig, load_config
from edge.errors import ConfigError, ConfigIssue
from edge.ops import units
from edge.ops.mosquitto_conf import TECHNICIAN, BrokerFiles, client_names, render_acl, render_conf
from edge.ops.pki import StoreCA, ensure_pkcs12
from edge.ops.tomlwrite import dumps
from edge.web.passwords import hash_password


@dataclass(frozen=True, slots=True)
class InstallOptions:
    root: Path
    store_id: str | None  # required for a new gateway's config (no default identity)
    gateway_id: str
    mqtt_port: int = 8883
    bind: str = "0.0.0.0"
    broker_names: tuple[str, ...] = ()
    config_from: Path | None = None
    renew_certs: bool = False
    system: bool = False  # create user, chown, systemctl enable --now
    websockets_port: int | None = None  # secure WebSockets listener for browser displays


@dataclass(frozen=True, slots=True)
class InstallResult:
    config_created: bool
    config_file: Path
    written: tuple[Path, ...]
    clients: dict[str, str]
    #: The new gateway's dashboard password, to show once (the config holds only its hash); None when
    #: the config was kept or came from --config-from.
    dashboard_password: str | None = None


def under(root: Path, target: PurePosixPath) -> Path:
    """Where a target path lands under the install root."""
    return root / str(target).lstrip("/")


def _write_text(path: Path, text: str, mode: int = 0o644) -> Path:
    return write_atomic(path, text, mode)


def new_dashboard_password() -> tuple[str, str]:
    """A random dashboard password for a new gateway and its scrypt hash (the config keeps the hash)."""
    password = secrets.token_urlsafe(12)
    return password, hash_password(password)


def initial_config(
    layout: units.Layout, store_id: str, gateway_id: str, port: int, password_hash: str
) -> str:
    """A new gateway's config; ``password_hash``: the dashboard password's scrypt hash (only the hash
    is written: the password itself is shown to the technician once)."""
    pki = layout.pki_dir
    return f"""\
# Gateway configuration written by `shelf-edge install`; kept on upgrade.
# Check it with: shelf-edge validate-config {layout.config_file}
# All keys: /opt/smartshelf/edge.example.toml (or deploy/edge.example.toml in the source tree).

[gateway]
store_id = "{store_id}"
gateway_id = "{gateway_id}"
data_dir = "{layout.data_dir}"

[mqtt]
host = "localhost"
port = {port}

[mqtt.tls]
ca_file = "{pki}/ca.crt"
cert_file = "{pki}/clients/{gateway_id}.crt"
key_file = "{pki}/clients/{gateway_id}.key"

[logging]
level = "INFO"
format = "json"

[web]
port = 8080
password = "{password_hash}"   # scrypt hash; set another: shelf-edge dashboard --hash-password
"""


BROKER_OPTIONS = PurePosixPath("/etc/smartshelf/broker.toml")


def load_broker_options(root: Path) -> dict[str, Any]:
    """The broker options of the last install (port, bind, names, websockets), so upgrades keep them."""
    path = under(root, BROKER_OPTIONS)
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def install(opts: InstallOptions, layout: units.Layout | None = None) -> InstallResult:
    layout = layout or units.Layout()
    root = opts.root
    written: list[Path] = []
    for target in (layout.app_dir, layout.etc_dir, layout.data_dir, layout.pki_dir):
        under(root, target).mkdir(parents=True, exist_ok=True)
    os.chmod(under(root, layout.etc_dir), 0o750)
    os.chmod(under(root, layout.data_dir), 0o750)

    config_path = under(root, layout.config_file)
    created = not config_path.exists()
    password = None
    if created:
        if opts.config_from is None and opts.store_id is None:
            issue = ConfigIssue(
                "gateway.store_id", ..., "a new gateway needs its store: pass --store-id STORE"
            )
            raise ConfigError(str(config_path), [issue])
        if opts.config_from:
            text = opts.config_from.read_text()
        else:
            password, hashed = new_dashboard_password()
            text = initial_config(layout, str(opts.store_id), opts.gateway_id, opts.mqtt_port, hashed)
        written.append(_write_text(config_path, text, 0o640))
    config: EdgeConfig = load_config(config_path)  # raises ConfigError naming every bad key
    clients = client_names(config)

    ca = StoreCA(under(root, layout.pki_dir), config.gateway.store_id)
    ca.ensure_ca()
    names = ("localhost", "127.0.0.1", "::1", socket.gethostname(), f"{socket.gethostname()}.local")
    server = ca.ensure_server(tuple(dict.fromkeys((*names, *opts.broker_names))), force=opts.renew_certs)
    for name, role in clients.items():
        issued = ca.ensure_client(name, force=opts.renew_certs)
        if role == "display":
            if opts.renew_certs:
                issued.cert.with_suffix(".p12").unlink(missing_ok=True)
            ensure_pkcs12(issued, ca.ca_cert_path, name)
    written += [ca.ca_cert_path, server.cert]

    # The broker runs as user mosquitto: its files live under /etc/mosquitto, the key group-readable.
    mdir = layout.mosquitto_dir
    files = BrokerFiles(
        mdir / "certs" / "smartshelf-ca.crt",
        mdir / "certs" / "smartshelf-server.crt",
        mdir / "certs" / "smartshelf-server.key",
        mdir / "smartshelf.acl",
    )
    for source, target, mode in (
        (ca.ca_cert_path, files.ca_file, 0o644),
        (server.cert, files.cert_file, 0o644),
        (server.key, files.key_file, 0o600),
    ):
        dest = under(root, target)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
        os.chmod(dest, mode)
        written.append(dest)
    _group_own(under(root, files.key_file), "mosquitto", 0o640)
    written.append(_write_text(under(root, files.acl_file), render_acl(config), 0o644))
    written.append(
        _write_text(
            under(root, mdir / "conf.d" / "smartshelf.conf"),
            render_conf(config, files, opts.mqtt_port, opts.bind, websockets_port=opts.websockets_port),
        )
    )
    pki = layout.pki_dir
    remembered = {"mqtt_port": opts.mqtt_port, "bind": opts.bind, "broker_names": list(opts.broker_names)}
    if opts.websockets_port:
        remembered["websockets_port"] = opts.websockets_port
    written.append(
        _write_text(
            under(root, BROKER_OPTIONS),
            dumps(remembered, "Broker options of `shelf-edge install` (kept for upgrades)."),
        )
    )
    systemd = PurePosixPath("/etc/systemd/system")
    bridge_env = (
        f"Environment=SHELF_EDGE_MQTT__TLS__CERT_FILE={pki}/clients/{config.bridge.bridge_id}.crt\n"
        f"Environment=SHELF_EDGE_MQTT__TLS__KEY_FILE={pki}/clients/{config.bridge.bridge_id}.key\n"
    )
    bridge_text = units.bridge_unit(layout).replace("[Install]", bridge_env + "\n[Install]", 1)
    for target, text in (
        (systemd / units.EDGE_UNIT, units.edge_unit(layout)),
        (systemd / units.BRIDGE_UNIT, bridge_text),
        (PurePosixPath("/etc/sysusers.d/smartshelf.conf"), units.sysusers(layout)),
        (PurePosixPath("/etc/tmpfiles.d/smartshelf.conf"), units.tmpfiles(layout)),
        (PurePosixPath("/etc/systemd/journald.conf.d/smartshelf.conf"), units.journald_dropin()),
    ):
        written.append(_write_text(under(root, target), text))
    source = Path(__file__).resolve().parents[2] / "deploy"
    for doc in ("edge.example.toml", "README.md"):
        if (source / doc).exists():
            shutil.copyfile(source / doc, under(root, layout.app_dir / doc))
    stamp = f"version={__version__}\ninstalled={dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}\n"
    written.append(_write_text(under(root, layout.app_dir / "INSTALLED"), stamp))
    if opts.system:
        _activate(root, layout, config, clients)
    return InstallResult(created, config_path, tuple(written), clients, password)


def _group_own(path: Path, group: str, mode: int) -> None:
    """Give ``group`` read access when that group exists here and we may chown (root)."""
    try:
        os.chown(path, 0, grp.getgrnam(group).gr_gid)
    except (KeyError, PermissionError):
        return
    os.chmod(path, mode)


def _activate(root: Path, layout: units.Layout, config: EdgeConfig, clients: dict[str, str]) -> None:
    """On the real system: user, owners, services. Each step is a plain systemd tool."""
    subprocess.run(["systemd-sysusers"], check=True)
    subprocess.run(["systemd-tmpfiles", "--create", "/etc/tmpfiles.d/smartshelf.conf"], check=True)
    pki = under(root, layout.pki_dir)
    for name, role in clients.items():
        if role in ("gateway", "bridge") or name == TECHNICIAN:
            _group_own(pki / "clients" / f"{name}.key", units.USER, 0o640)
    subprocess.run(["systemctl", "daemon-reload"], check=True)
    subprocess.run(["systemctl", "restart", "systemd-journald"], check=False)
    subprocess.run(["systemctl", "enable", "mosquitto", units.EDGE_UNIT, units.BRIDGE_UNIT], check=True)
    subprocess.run(["systemctl", "restart", "mosquitto", units.BRIDGE_UNIT, units.EDGE_UNIT], check=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, default=Path("/"), help="Install root (default /).")
    parser.add_argument(
        "--store-id", default=None, help="Store id for a new gateway's config (required for a new gateway)."
    )
    parser.add_argument("--gateway-id", default="gw-1", help="Gateway id for a new gateway's config.")
    parser.add_argument(
        "--config-from", type=Path, help="Use this TOML as the initial config (new gateway only)."
    )
    parser.add_argument(
        "--mqtt-port", type=int, help="TLS port of the store broker (default 8883, then remembered)."
    )
    parser.add_argument("--bind", help="Address the broker listens on (default 0.0.0.0, then remembered).")
    parser.add_argument(
        "--broker-name", action="append", help="Extra host name/IP displays use for the broker (remembered)."
    )
    parser.add_argument(
        "--websockets-port",
        type=int,
        help="Also serve secure WebSockets for browser displays (remembered; 0 = off).",
    )
    parser.add_argument("--renew-certs", action="store_true", help="Re-issue server and client certificates.")
    parser.add_argument(
        "--no-activate",
        action="store_true",
        help="With --root /: write files only (no user, chown or systemctl).",
    )


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True, soft_wrap=True)
    root: Path = args.root.resolve()
    stored = load_broker_options(root)
    ws = args.websockets_port if args.websockets_port is not None else stored.get("websockets_port")
    opts = InstallOptions(
        root=root,
        store_id=args.store_id,
        gateway_id=args.gateway_id,
        mqtt_port=args.mqtt_port or int(stored.get("mqtt_port", 8883)),
        bind=args.bind or str(stored.get("bind", "0.0.0.0")),
        broker_names=tuple(args.broker_name or stored.get("broker_names", [])),
        config_from=args.config_from,
        renew_certs=args.renew_certs,
        websockets_port=int(ws) if ws else None,
        system=str(root) == "/" and not args.no_activate,
    )
    try:
        result = install(opts)
    except ConfigError as exc:
        console.print(f"[red]install stopped: the configuration is not valid[/red]\n{exc}")
        return 2
    except (OSError, subprocess.CalledProcessError) as exc:
        console.print(f"[red]install failed:[/red] {exc}")
        return 1
    state = "created" if result.config_created else "kept (upgrade)"
    console.print(f"config {result.config_file}: {state}")
    console.print(f"MQTT clients with certificates: {', '.join(sorted(result.clients))}")
    console.print(
        escape(
            f"dashboard: http://127.0.0.1:8080 on this gateway, or ssh -L 8080:127.0.0.1:8080 "
            f'{socket.gethostname()} ([web] host = "0.0.0.0" serves the store LAN)'
        )
    )
    if result.dashboard_password:
        console.print(
            escape(
                f"dashboard password (shown this once; {result.config_file} keeps only its hash, "
                f"`shelf-edge dashboard --hash-password` makes a new one): {result.dashboard_password}"
            )
        )
    for path in result.written:
        console.print(f"  wrote {path}")
    console.print("[green]install done[/green]" + ("" if opts.system else f" (files only, under {root})"))
    return 0
