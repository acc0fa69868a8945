"""What a gateway installs: deploy/install.sh puts the PLAIN package (no extras) into a fresh venv,
from a local wheelhouse with constraints.txt, and every gateway command starts there without onnx,
the simulators' dependencies or the test tools.

Cost: about 40 s on the 2-core CI machine (pip unpacking numpy, OpenCV and onnxruntime into a new
venv), plus about 10 s the first time on a machine to fill the wheelhouse from the registry
(kept in the dev venv as ``wheelhouse-<constraints hash>``, reused after that).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def wheelhouse() -> Path:
    """Wheels of the base dependencies (and the build backend), exactly as constraints.txt pins them."""
    pins = (REPO / "constraints.txt").read_bytes() + (REPO / "pyproject.toml").read_bytes()
    where = Path(sys.prefix) / f"wheelhouse-{hashlib.sha256(pins).hexdigest()[:12]}"
    if (where / ".complete").exists():
        return where
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    wanted = [*project["project"]["dependencies"], *project["build-system"]["requires"]]
    pip = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary", ":all:", "--dest", str(where)]
    subprocess.run(
        [*pip, "-c", str(REPO / "constraints.txt"), *wanted],
        check=True,
        timeout=600,
    )
    (where / ".complete").touch()
    return where


def test_a_gateway_gets_the_plain_package_and_its_commands_start(tmp_path: Path) -> None:
    root = tmp_path / "root"
    script = ["bash", str(REPO / "deploy/install.sh"), "--root", str(root)]
    done = subprocess.run(
        [*script, "--wheelhouse", str(wheelhouse()), "--store-id", "store-042"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    venv = root / "opt/smartshelf/venv/bin"

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, capture_output=True, text=True, timeout=120)

    assert run(str(venv / "shelf-edge"), "--help").returncode == 0
    assert run(str(venv / "shelf-bridge"), "--help").returncode == 0
    config = tmp_path / "edge.toml"
    config.write_text(
        f'[gateway]\nstore_id = "store-042"\ngateway_id = "gw-1"\ndata_dir = "{tmp_path / "data"}"\n'
    )
    checked = run(str(venv / "shelf-edge"), "validate-config", str(config))
    assert checked.returncode == 0 and "valid (store store-042, gateway gw-1" in checked.stdout
    # every gateway command's module imports (what `run`, doctor, calibrate, ... load)
    modules = [
        "edge.app",
        "edge.ops.doctor",
        "edge.ops.calibrate",
        "edge.ops.provision",
        "edge.web.cli",
        "edge.vision.check_cli",
        "edge.sensing.replay",
        "shelf_firmware_bridge.service",
        "shelf_firmware_bridge.probe",
    ]
    imported = run(str(venv / "python"), "-c", "import " + ", ".join(modules))
    assert imported.returncode == 0, imported.stderr
    # and nothing a gateway does not run: no model building, no test tools
    installed = run(str(venv / "python"), "-m", "pip", "list", "--format=freeze").stdout.lower()
    names = {line.split("==")[0] for line in installed.splitlines()}
    assert {"onnxruntime", "opencv-python-headless", "bleak", "tomlkit"} <= names
    assert not names & {"onnx", "pytest", "hypothesis", "ruff", "mypy"}, names
