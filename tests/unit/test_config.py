from pathlib import Path

import pytest
from pydantic import BaseModel

from edge import config as config_module
from edge.cli import main as shelf_edge
from edge.config import EdgeConfig, load_config
from edge.errors import ConfigError
from edge.ops.pki import StoreCA

EXAMPLE = Path(__file__).parents[2] / "deploy" / "edge.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(text)
    return path


IDENTITY = '[gateway]\nstore_id = "s1"\ngateway_id = "gw-1"\ndata_dir = "/tmp/edge-test"\n'


def test_example_config_is_valid(tmp_path, capsys):
    config = load_config(EXAMPLE)
    assert config.gateway.store_id == "store-001"
    assert len(config.bridge.shelves) == 2
    # Its paths are a gateway's: moved under tmp_path, with the files there, every path checks out.
    text = EXAMPLE.read_text()
    for directory in ("/etc/smartshelf", "/var/lib/smartshelf"):
        text = text.replace(directory, str(tmp_path) + directory)
    copy = write(tmp_path, text)
    files = {}
    for key in ("ca_file", "cert_file", "key_file", "planogram", "catalogue", "release_public_key"):
        line = next(line for line in text.splitlines() if line.startswith(key))
        files[key] = target = Path(line.split('"')[1])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("x")
    ca = StoreCA(tmp_path / "pki", "store-001")  # the TLS files must load as the MQTT client loads them
    ca.ensure_ca()
    issued = ca.ensure_client("gw-1")
    files["ca_file"].write_bytes(ca.ca_cert_path.read_bytes())
    files["cert_file"].write_bytes(issued.cert.read_bytes())
    files["key_file"].write_bytes(issued.key.read_bytes())
    (tmp_path / "var/lib/smartshelf/models/offers/factory").mkdir(parents=True)
    assert shelf_edge(["validate-config", str(copy)]) == 0
    assert "valid" in capsys.readouterr().out


def test_unknown_key_is_named_with_its_path(tmp_path, capsys):
    path = write(tmp_path, IDENTITY + '[mqtt]\nhost = "x"\nprot = 1883\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    issue = info.value.issues[0]
    assert issue.path == "mqtt.prot"
    assert issue.value == 1883
    assert "unknown key" in issue.message
    assert shelf_edge(["validate-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert "mqtt.prot: unknown key" in err and "(got 1883)" in err


def test_bad_value_names_path_value_and_reason(tmp_path):
    path = write(tmp_path, "[mqtt]\nport = 70000\n[[displays]]\ndisplay_id = 'a b'\ngondola = 1\nshelf = 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    by_path = {i.path: i for i in info.value.issues}
    assert by_path["mqtt.port"].value == 70000
    assert "less than or equal to 65535" in by_path["mqtt.port"].message
    assert "displays.0.display_id" in by_path


def test_broken_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[mqtt\nhost=1"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def test_receiver_zone_format_is_checked(tmp_path):
    with pytest.raises(ConfigError, match="gondola/shelf"):
        load_config(write(tmp_path, IDENTITY + '[presence.receivers]\nrx = "shelf-one"\n'))


def test_environment_overrides_file(tmp_path, monkeypatch):
    path = write(tmp_path, IDENTITY + '[mqtt]\nhost = "file-host"\nport = 1883\n')
    monkeypatch.setenv("SHELF_EDGE_MQTT__PORT", "1999")
    monkeypatch.setenv("SHELF_EDGE_GATEWAY__STORE_ID", "store-env")
    config = load_config(path)
    assert config.mqtt.port == 1999
    assert config.mqtt.host == "file-host"
    assert config.gateway.store_id == "store-env"


def test_bad_environment_value_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("SHELF_EDGE_MQTT__PORT", "not-a-port")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, IDENTITY))
    assert info.value.issues[0].path == "mqtt.port"


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> None:
    if model in seen:
        return
    seen.add(model)
    for f in model.model_fields.values():
        for arg in _flatten(f.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                _models(arg, seen)


def _flatten(annotation: object) -> list[object]:
    args = getattr(annotation, "__args__", None)
    if not args:
        return [annotation]
    out: list[object] = []
    for a in args:
        out += _flatten(a)
    return out


def test_every_config_field_is_described_and_strict():
    seen: set[type[BaseModel]] = set()
    _models(EdgeConfig, seen)
    assert len(seen) > 5
    for model in seen:
        assert model.model_config.get("extra") == "forbid", model
        for name, f in model.model_fields.items():
            assert f.description, f"{model.__name__}.{name} has no description"
    assert config_module.ENV_PREFIX == "SHELF_EDGE_"


def test_every_path_field_is_checked_with_a_role() -> None:
    from edge.config_paths import ROLES, path_fields

    assert set(path_fields()) == set(ROLES)  # a new Path field must say how it is checked


def test_paths_are_checked_by_role(tmp_path: Path) -> None:
    from edge.config import parse_config
    from edge.config_paths import check_paths

    (tmp_path / "planogram.csv").write_text("x")
    (tmp_path / "a-file").write_text("x")
    config = parse_config(
        {
            "gateway": {"store_id": "s", "gateway_id": "g", "data_dir": str(tmp_path / "new" / "data")},
            "sensing": {"planogram": str(tmp_path / "planogram.csv")},
            "offers": {"rules": str(tmp_path), "model_dir": str(tmp_path / "a-file")},
            "bridge": {"calibration_db": str(tmp_path / "a-file" / "bridge.db")},
        }
    )
    found = {p.key: p.problem for p in check_paths(config)}
    assert found == {
        "bridge.calibration_db": f"its directory {tmp_path / 'a-file'} is not a directory",
        "offers.model_dir": "is not a directory",
        "offers.rules": "is not a file",
    }
    assert {p.key for p in check_paths(config, "bridge")} == {"bridge.calibration_db"}
    assert {p.key for p in check_paths(config, "edge")} == {"offers.model_dir", "offers.rules"}
