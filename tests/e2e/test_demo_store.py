"""The same scenario as ``make demo``, asserted: offers reach the right display for the right shopper.

Mosquitto is stopped and started again in the middle: the daemon, the bridge, the displays and the
receivers reconnect, and picks made after the restart still become offers on displays.
"""

from __future__ import annotations

import argparse
import io
import json
import re

import pytest
from rich.console import Console

from simulators.demo import Demo, add_arguments

pytestmark = pytest.mark.e2e


def test_demo_store_end_to_end_with_broker_restart(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("demo")
    parser = argparse.ArgumentParser()
    add_arguments(parser)  # the same options `make demo ARGS=...` passes
    args = parser.parse_args(["--workdir", str(workdir), "--restart-broker-at", "20"])
    out = io.StringIO()
    demo = Demo(args, Console(file=out, width=140, highlight=False))
    code = demo.run()
    text = out.getvalue()
    print(text)  # the narration, shown by pytest when an assertion fails
    assert code == 0, text
    assert demo.broker_restarts == 1
    assert demo.daemon_alive_at_end, text
    assert "uplift report of this run (offers against holdout)" in text, text
    assert (demo.run_dir / "uplift" / "report" / "index.html").exists()
    seen = demo.narrator.seen

    # Every planned pick was detected, with the right product, credited to the right shopper; a pick
    # made while the broker was away (its BLE sightings were lost with it) may be left without a
    # shopper, never credited to a wrong one.
    outage = (demo.broker_stopped_at - 2.0, demo.broker_back_at + 8.0)
    assert demo.picks_made == demo.picks  # the scenario ran to its end
    for pick in demo.picks:
        hits = [
            b
            for b in seen.basket
            if b["kind"] == "pick"
            and (b["gondola"], b["shelf"]) == (pick.shelf.gondola, pick.shelf.shelf)
            and pick.at - 1.0 < b["t"] < pick.at + 9.0
        ]
        assert len(hits) == 1, (pick, hits)
        assert hits[0]["product_id"] == pick.product_id
        if outage[0] <= pick.at <= outage[1]:
            assert hits[0]["shopper"] in (pick.shopper, None)
        else:
            assert hits[0]["shopper"] == pick.shopper

    # Every offer shown went to the display of the shelf where its shopper had just picked,
    # and is the product the gateway decided.
    assert seen.shown, text
    decided = {o["offer_id"]: o for o in seen.offers}
    for display, offer in seen.shown:
        assert display == f"d-g{offer.gondola}s{offer.shelf}"
        assert decided[offer.offer_id]["product_id"] == offer.product_id
        assert decided[offer.offer_id]["shopper"] == offer.shopper
        assert any(
            p.shopper == offer.shopper and (p.shelf.gondola, p.shelf.shelf) == (offer.gondola, offer.shelf)
            for p in demo.picks
        )
    # Offers kept flowing after the broker came back.
    assert any(o.issued_at > demo.broker_back_at for _, o in seen.shown), text
    # The passer-by's phone is not enrolled: it never appears.
    assert "stranger" not in text
    # The technician's dashboard, served by the daemon, showed the store live: every plate's weight,
    # the events and the offers with their acknowledgements, and no shopper identity.
    state = json.loads(demo.dashboard_json)
    assert len([p for p in state["plates"] if p["series"]]) == 24
    assert any(e for e in state["events"])
    assert any(o["acknowledged"] for o in state["offers"])
    assert not any(i.customer.shopper in demo.dashboard_json for i in demo.installs)
    # Its store-status row: the daemon's sync pulled and pushed during the run.
    assert (
        state["gateway"]["last_pull_at"] > demo.run_started
        and state["gateway"]["last_push_at"] > demo.run_started
    )
    # Events carry the catalogue's names; /metrics measured the daemon's latencies.
    assert any(e["name"] for e in state["events"])
    for histogram in ("sample_to_event", "decision", "offer_to_ack"):
        count = re.search(rf"^smartshelf_{histogram}_seconds_count (\S+)$", demo.dashboard_metrics, re.M)
        assert count and float(count.group(1)) > 0, histogram
    # The shoppers enrolled through the service's loyalty API, their keys came from the day-keys job,
    # and the first one's withdrawal in the app reached the gateway's keys at its next pull.
    assert len(demo.installs) == 3 and demo.withdrawn_at is not None
    assert demo.withdrawal_reached_gateway_s is not None, text
    # Every event went through the outbox to the reference backend.
    assert demo.backend_events >= len(demo.picks), text
