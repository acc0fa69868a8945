"""The measurement commands end to end on a small simulated chain's export (real files, real
offer engine, headless Chromium for the report page)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from models.cli import main as models_main
from simulators.uplift.chain import ChainConfig, ChainRun, run_chain, sim_rules, write_run
from simulators.uplift.response import ResponseModel
from tests.support import webdriver

SMALL = ChainConfig(shoppers=300, weeks=3, pre_weeks=2)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[ChainRun, Path]:
    run = run_chain(SMALL, sim_rules(), ResponseModel(), seed=4)
    return run, write_run(run, tmp_path_factory.mktemp("export"))


@pytest.fixture(scope="module")
def report(chain: tuple[ChainRun, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    assert models_main(["uplift", "--events", str(chain[1]), "--out", str(out)]) == 0
    return out


def test_uplift_report_json(report: Path) -> None:
    data = json.loads((report / "report.json").read_text())
    overall = {(r["campaign"], r["variant"]) for r in data["overall"]}
    assert {
        ("(all offers)", "ev"),
        ("(all offers)", "relevance"),
        ("light-up", "ev"),
        ("tea-time", "ev"),
    } <= overall
    srm = {s["campaign"]: s for s in data["srm"]}
    assert srm["(all offers)"]["expected_share"] == pytest.approx(
        {"holdout": 0.2, "ev": 0.4, "relevance": 0.4}
    )
    assert srm["(all offers)"]["mismatch"] is False and set(srm) == {"(all offers)"}
    row = next(r for r in data["overall"] if r["campaign"] == "(all offers)" and r["variant"] == "ev")
    seq, plain = row["metrics"]["spend_visit"]["sequential"], row["metrics"]["spend_visit"]["plain"]
    assert seq["ci_high"] - seq["ci_low"] > plain["ci_high"] - plain["ci_low"]
    assert {r["week"] for r in data["weekly"]} == {"2026-09-07", "2026-09-14", "2026-09-21"}
    assert {r["store"] for r in data["cells"]} == {"store-1", "store-2"}


@pytest.mark.browser
@pytest.mark.skipif(
    not webdriver.available(), reason="needs chromium + chromedriver (deploy/system-packages.sh)"
)
def test_uplift_report_page_in_chromium(report: Path, tmp_path: Path) -> None:
    with webdriver.Chromium() as browser:
        browser.get((report / "index.html").as_uri())
        assert browser.js("return document.querySelectorAll('#forest svg').length") == 1
        assert (
            browser.js("return document.querySelectorAll('.weeks svg').length") == 4
        )  # all, 2 campaigns, organic
        assert browser.js("return document.querySelectorAll('#overall tr').length") >= 6
        srm = browser.js("return document.querySelector('#srm').innerText")
        assert "ok (p =" in srm and "MISMATCH" not in srm
        width = browser.js("return document.querySelector('#forest svg').getBoundingClientRect().width")
        assert width > 300
        shot = browser.screenshot()
        assert shot[:8] == b"\x89PNG\r\n\x1a\n"
        (tmp_path / "uplift-report.png").write_bytes(shot)
        assert browser.js("return document.body.scrollHeight") > 2000


def test_uplift_refuses_bad_event_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert models_main(["uplift", "--events", str(tmp_path / "none"), "--out", str(tmp_path / "r")]) == 2
    assert "no such directory" in capsys.readouterr().err
    (tmp_path / "ev" / "exposures").mkdir(parents=True)
    (tmp_path / "ev" / "picks").mkdir(parents=True)
    (tmp_path / "ev" / "exposures" / "a.csv").write_text(
        "t,shopper,campaign,variant,group,product,store_id\n1,s,c,v,treatd,p,x\n"
    )
    (tmp_path / "ev" / "picks" / "a.csv").write_text("t,shopper,product,price,margin\n1,s,p,2,1\n")
    assert models_main(["uplift", "--events", str(tmp_path / "ev"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1 and "group must be one of treated, holdout, universal_holdout; found 'treatd'" in err[0]
    )


def test_policy_value_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "log.csv"
    log.write_text(
        "reward,logging_propensity,target_probability,reward_model_logged,reward_model_target\n"
        "1,0.5,1,0.5,0.5\n0,0.5,0,0.5,0.5\n1,0.25,0.5,0.5,0.5\n0,1,1,0.5,0.5\n"
    )
    assert models_main(["policy-value", "--log", str(log), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 4
    assert out["estimators"]["ips"]["value"] == pytest.approx(1.0)
    assert out["estimators"]["snips"]["value"] == pytest.approx(0.8)
    assert out["estimators"]["dr"]["value"] == pytest.approx(0.5 + (2 * 0.5 + 0 + 2 * 0.5 + 1 * -0.5) / 4)
    assert out["recommended"] in out["estimators"]
    for est in out["estimators"].values():
        assert est["ci_low"] <= est["value"] <= est["ci_high"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("reward,logging_propensity\n1,0.5\n", "missing column(s) target_probability"),
        ("reward,logging_propensity,target_probability\n", "the log has no rows"),
        ("", "not a readable CSV"),
        (
            "reward,logging_propensity,target_probability\n1,0.5,inf\n",
            "target_probability is not a finite number in row 1",
        ),
        (
            "reward,logging_propensity,target_probability\n1,0,1\n",
            "logging_propensity must be in (0, 1], row 1 has 0.0",
        ),
        (
            "reward,logging_propensity,target_probability\n1,1.2,1\n",
            "logging_propensity must be in (0, 1], row 1 has 1.2",
        ),
        (
            "reward,logging_propensity,target_probability\n1,0.5,\n",
            "target_probability is empty or NaN in data row 1",
        ),
        ("reward,logging_propensity,target_probability\nnan,0.5,1\n", "reward is empty or NaN in data row 1"),
        ("reward,logging_propensity,target_probability\nyes,0.5,1\n", "reward must be numeric"),
        (
            "reward,logging_propensity,target_probability,reward_model_logged\n1,0.5,1,1\n",
            "needs reward_model_target",
        ),
    ],
)
def test_policy_value_refuses_bad_logs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    log = tmp_path / "log.csv"
    log.write_text(text)
    assert models_main(["policy-value", "--log", str(log), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_simulate_policy_with_the_running_rules_is_the_log_itself(
    chain: tuple[ChainRun, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, root = chain
    assert (
        models_main(["simulate-policy", "--rules", str(root / "rules.json"), "--decisions", str(root)]) == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["mismatched"] == 0  # the real engine replays every logged decision identically
    assert out["unsupported_share"] == 0
    assert out["offers_per_shopper"]["new"] == out["offers_per_shopper"]["running"]
    for name in ("conversions", "margin"):
        per = out["estimates"][name]["per_decision"]
        running = per["running"]["value"]
        for est in ("ips", "snips"):  # every weight is 1
            assert per["new"][est]["value"] == pytest.approx(running, rel=1e-9)


def test_simulate_policy_warns_where_the_log_has_no_support(
    chain: tuple[ChainRun, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, root = chain
    rules = sim_rules(weight=4.0, explore=0.0, novelty=0.0, version="heavier-lights")
    (tmp_path / "new.json").write_text(rules.model_dump_json())
    assert (
        models_main(["simulate-policy", "--rules", str(tmp_path / "new.json"), "--decisions", str(root)]) == 0
    )
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["unsupported_share"] > 0
    assert "no support in the log" in captured.err
    assert out["budget_use"]["light-up"]["new"] > out["budget_use"]["light-up"]["running"]
    assert math.isfinite(out["estimates"]["margin"]["per_decision"]["new"]["snips"]["value"])


def test_bad_rules_are_one_line(
    chain: tuple[ChainRun, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, root = chain
    bad = tmp_path / "bad.json"
    bad.write_text('{"rules": {"min_stock": 0}, "color": 1}')
    assert models_main(["simulate-policy", "--rules", str(bad), "--decisions", str(root)]) == 2
    assert (
        models_main(["uplift", "--events", str(root), "--rules", str(bad), "--out", str(tmp_path / "r")]) == 2
    )
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all("min_stock" in line and "color" in line for line in lines), lines
