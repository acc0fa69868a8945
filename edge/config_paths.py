"""Every path in a gateway configuration, checked against the file system before a daemon starts.

``edge.config`` validates a document's shape; this module checks what only the machine can tell:
that a file the daemons read exists and is readable, and that a place they write can be written
(by the user running the check: run ``validate-config`` as the service user, as systemd's
``ExecStartPre`` does). Used by ``shelf-edge validate-config``, ``shelf-edge run``, ``shelf-bridge
run`` and ``shelf-edge doctor``.

Each path field has a role (:data:`ROLES`) and the daemons that use it; a unit test keeps the table
complete, so a new path field cannot go unchecked.
"""

from __future__ import annotations

import enum
import os
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel

from edge.config import EdgeConfig, TlsSection
from edge.errors import ConfigIssue

Daemon = Literal["edge", "bridge"]


class Role(enum.Enum):
    READ_FILE = "a file the gateway reads"
    READ_DIR = "a directory the gateway reads"
    WRITE_DIR = "a directory the gateway writes (created when missing)"
    WRITE_FILE = "a file the gateway writes (its directory must be writable)"


@dataclass(frozen=True, slots=True)
class PathRole:
    role: Role
    daemons: frozenset[str]
    #: What to do when the path is wrong, for the technician.
    fix: str


_BOTH = frozenset({"edge", "bridge"})
_EDGE = frozenset({"edge"})
_SYNCED = "correct the path, or remove the key to use what the backend syncs"

#: Role of each path field, by location ("cameras[].model": the field in every camera).
ROLES: dict[str, PathRole] = {
    "gateway.data_dir": PathRole(Role.WRITE_DIR, _BOTH, "create it, owned by the service user"),
    "mqtt.tls.ca_file": PathRole(Role.READ_FILE, _BOTH, "run `sudo shelf-edge install` or correct the path"),
    "mqtt.tls.cert_file": PathRole(
        Role.READ_FILE, _BOTH, "run `sudo shelf-edge install` or correct the path"
    ),
    "mqtt.tls.key_file": PathRole(Role.READ_FILE, _BOTH, "run `sudo shelf-edge install` or correct the path"),
    "bridge.calibration_db": PathRole(
        Role.WRITE_FILE, frozenset({"bridge"}), "correct the path (default: gateway.data_dir/bridge.db)"
    ),
    "sensing.planogram": PathRole(Role.READ_FILE, _EDGE, _SYNCED),
    "presence.keys_file": PathRole(Role.READ_FILE, _EDGE, _SYNCED),
    "offers.model_dir": PathRole(Role.READ_DIR, _EDGE, "install the model there or correct the path"),
    "offers.catalogue": PathRole(Role.READ_FILE, _EDGE, _SYNCED),
    "offers.rules": PathRole(Role.READ_FILE, _EDGE, _SYNCED),
    "offers.profiles": PathRole(Role.READ_FILE, _EDGE, _SYNCED),
    "backend.release_public_key": PathRole(
        Role.READ_FILE, _EDGE, "run `sudo shelf-edge provision` again or correct the path"
    ),
    "cameras[].model": PathRole(
        Role.READ_FILE, _EDGE, "correct the path, or remove it for the bundled model"
    ),
    "cameras[].snapshot_dir": PathRole(Role.WRITE_DIR, _EDGE, "create it, owned by the service user"),
    "cameras[].field_labels_dir": PathRole(Role.WRITE_DIR, _EDGE, "create it, owned by the service user"),
    "database.held_spill_dir": PathRole(
        Role.WRITE_DIR, _EDGE, "correct the path, or remove the key to use the unit's RuntimeDirectory"
    ),
}


@dataclass(frozen=True, slots=True)
class PathProblem:
    """One configured path that does not work on this machine."""

    key: str
    path: Path
    role: PathRole
    problem: str

    def issue(self) -> ConfigIssue:
        return ConfigIssue(
            self.key, str(self.path), f"{self.problem} ({self.role.role.value}; fix: {self.role.fix})"
        )


def _is_path(annotation: object) -> bool:
    return annotation is Path or Path in get_args(annotation)


def _models_in(annotation: object) -> list[type[BaseModel]]:
    found = [
        a for a in (annotation, *get_args(annotation)) if isinstance(a, type) and issubclass(a, BaseModel)
    ]
    for arg in get_args(annotation):
        found += [m for m in _models_in(arg) if m not in found]
    return found


def path_fields(model: type[BaseModel] = EdgeConfig, prefix: str = "") -> list[str]:
    """Locations of every Path field of ``model``, in the notation of :data:`ROLES`."""
    out: list[str] = []
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        if _is_path(info.annotation):
            out.append(key)
        is_list = getattr(info.annotation, "__origin__", None) is list
        for sub in _models_in(info.annotation):
            out += path_fields(sub, f"{key}[]." if is_list else f"{key}.")
    return out


def configured_paths(
    model: BaseModel, prefix: str = "", pattern: str = ""
) -> Iterator[tuple[str, str, Path]]:
    """(location pattern, concrete key, path) of every path set in ``model``."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        key, where = f"{prefix}{name}", f"{pattern}{name}"
        if isinstance(value, Path):
            yield where, key, value
        elif isinstance(value, BaseModel):
            yield from configured_paths(value, f"{key}.", f"{where}.")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from configured_paths(item, f"{key}.{i}.", f"{where}[].")


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _writable_dir(path: Path) -> str | None:
    if path.exists():
        if not path.is_dir():
            return "is not a directory"
        if not os.access(path, os.W_OK | os.X_OK):
            return f"is not writable by this user (uid {os.getuid()})"
        return None
    ancestor = _nearest_existing(path)
    if not ancestor.is_dir():
        return f"cannot be created: {ancestor} is not a directory"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"does not exist and cannot be created: {ancestor} is not writable by this user (uid {os.getuid()})"
    return None


def problem_of(path: Path, role: Role) -> str | None:
    """What is wrong with ``path`` for ``role``; None when it is fine."""
    if role is Role.READ_FILE:
        if not path.exists():
            return "does not exist"
        if not path.is_file():
            return "is not a file"
        if not os.access(path, os.R_OK):
            return f"is not readable by this user (uid {os.getuid()})"
        return None
    if role is Role.READ_DIR:
        if not path.exists():
            return "does not exist"
        if not path.is_dir():
            return "is not a directory"
        if not os.access(path, os.R_OK | os.X_OK):
            return f"is not readable by this user (uid {os.getuid()})"
        return None
    if role is Role.WRITE_DIR:
        return _writable_dir(path)
    if path.exists() and (not path.is_file() or not os.access(path, os.R_OK | os.W_OK)):
        return "is not a writable file"
    problem = _writable_dir(path.parent)
    return None if problem is None else f"its directory {path.parent} {problem}"


def _tls_problems(tls: TlsSection) -> list[PathProblem]:
    """The TLS files load as the MQTT client will load them (a readable file of garbage is caught here,
    not as a traceback in the daemon)."""
    found = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=str(tls.ca_file))
    except (ssl.SSLError, OSError) as exc:
        problem = f"is not a PEM CA certificate ({getattr(exc, 'reason', None) or exc})"
        found.append(PathProblem("mqtt.tls.ca_file", tls.ca_file, ROLES["mqtt.tls.ca_file"], problem))
    if tls.cert_file is not None:
        try:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file) if tls.key_file else None)
        except (ssl.SSLError, OSError) as exc:
            problem = f"does not load with key_file as a certificate and its key ({getattr(exc, 'reason', None) or exc})"
            found.append(
                PathProblem("mqtt.tls.cert_file", tls.cert_file, ROLES["mqtt.tls.cert_file"], problem)
            )
    return found


def check_paths(config: EdgeConfig, daemon: Daemon | None = None) -> list[PathProblem]:
    """Every path ``daemon`` uses (all of them when None) that does not work here, in config order."""
    problems = []
    for where, key, path in configured_paths(config):
        role = ROLES.get(where, PathRole(Role.READ_FILE, _BOTH, "correct the path"))
        if daemon is not None and daemon not in role.daemons:
            continue
        problem = problem_of(path, role.role)
        if problem is not None:
            problems.append(PathProblem(key, path, role, problem))
    tls = config.mqtt.tls
    if tls is not None and not any(p.key.startswith("mqtt.tls.") for p in problems):
        problems += _tls_problems(tls)
    return problems
