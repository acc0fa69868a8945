"""``shelf-backend`` for central IT: migrate, admin, purge; the deploy files use real commands."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from backend.cli import build_parser, main
from backend.db.engine import make_engine, make_sessionmaker
from backend.gateway.ingest import ingest
from backend.gateway.schemas import EventIn
from backend.settings import BackendSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_migrate_admin_and_purge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "backend.toml"
    config.write_text(f'database_url = "sqlite:///{tmp_path}/b.db"\nevent_retention_days = 30\n')
    run = lambda *a: main(["--config", str(config), *a])  # noqa: E731
    assert run("migrate") == 0
    assert run("admin", "store", "add", "store-7", "--name", "Seven") == 0
    assert run("admin", "token", "issue", "--role", "gateway", "--store", "store-7", "--label", "gw") == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("gw_")
    assert run("admin", "token", "issue", "--role", "gateway", "--store", "nowhere") == 1
    assert "no store 'nowhere'" in capsys.readouterr().err
    assert run("admin", "token", "list") == 0
    listed = capsys.readouterr().out
    assert "store-7" in listed and token not in listed
    (tmp_path / "cat.json").write_text('[{"p": 1}]')
    assert run("admin", "document", "put", "store-7", "catalogue", str(tmp_path / "cat.json")) == 0
    assert run("admin", "token", "revoke", "1") == 0
    capsys.readouterr()

    settings = BackendSettings.load(config)
    engine = make_engine(settings)
    with make_sessionmaker(engine)() as session:
        old = EventIn(idempotency_key="old", stream="basket", kind="pick", t=0.0, payload={})
        new = EventIn(idempotency_key="new", stream="basket", kind="pick", t=0.0, payload={})
        ingest(session=session, store_id="store-7", events=[old], now=1.0)
        ingest(session=session, store_id="store-7", events=[new], now=4e9)
        session.commit()
    engine.dispose()
    assert run("purge") == 0
    assert capsys.readouterr().out.startswith("1 raw events older than 30 days deleted")
    assert run("admin", "audit") == 0
    actions = [line.split("\t")[3] for line in capsys.readouterr().out.splitlines()]
    assert actions == ["store.create", "token.issue", "document.put", "token.revoke", "events.purge"]


def test_bad_settings_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "backend.toml"
    config.write_text('database_url = "mysql://x"\nworkers = 0\n')
    assert main(["--config", str(config), "migrate"]) == 2
    err = capsys.readouterr().err
    assert "database_url: Value error, must start with postgresql://" in err and "workers:" in err


def test_deploy_files_use_real_commands_and_settings() -> None:
    settings = BackendSettings.load(DEPLOY / "backend.example.toml")
    assert settings.environment == "production" and not settings.is_sqlite and settings.behind_proxy
    parser = build_parser()
    for unit in ("smartshelf-backend.service", "smartshelf-backend-purge.service"):
        for line in (DEPLOY / unit).read_text().splitlines():
            if line.startswith(("ExecStart=", "ExecStartPre=")):
                argv = shlex.split(line.split("=", 1)[1])
                assert argv[0].endswith("/shelf-backend")
                parser.parse_args(argv[1:])  # exits on an unknown command or option
