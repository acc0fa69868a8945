"""The presence scorer on the 'neighbours' scenario: accuracy, departures and privacy goals are met."""

from __future__ import annotations

from simulators.phones_scenarios import neighbours
from simulators.phones_score import GOAL_ACCURACY, GOAL_DEPARTURE_S, passed, score


def test_neighbours_scenario_meets_presence_goals() -> None:
    result = score(neighbours())
    assert result.picks >= 15 and result.visits == 11
    assert result.shelf_accuracy >= GOAL_ACCURACY
    assert result.attribution_accuracy >= GOAL_ACCURACY
    assert result.departures_detected == result.visits
    assert result.departure_delay_max_s <= GOAL_DEPARTURE_S
    assert result.privacy_ok, result.privacy_findings
    assert result.dropped > 0  # strangers were heard, and dropped
    assert passed(result)
