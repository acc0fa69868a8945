"""Event ingest over HTTP on both databases: once per key, resends counted, bad events refused alone."""

from __future__ import annotations

import pytest

from tests.backend.conftest import STORE, Service

pytestmark = pytest.mark.integration


def _event(i: int, **extra: object) -> dict[str, object]:
    return {
        "idempotency_key": f"k-{i}",
        "stream": "basket",
        "kind": "pick",
        "t": 1000.0 + i,
        "payload": {"i": i},
        **extra,
    }


def test_batch_is_stored_once_and_resend_counts_as_duplicates(service: Service) -> None:
    url = f"{service.url}/v1/stores/{STORE}/events"
    batch = {"events": [_event(i) for i in range(3)] + [_event(1)]}
    first = service.gateway.post(url, json=batch, timeout=5)
    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": ["k-0", "k-1", "k-2"], "duplicates": [], "rejected": []}
    again = service.gateway.post(url, json={"events": [_event(2), _event(3)]}, timeout=5).json()
    assert again == {"accepted": ["k-3"], "duplicates": ["k-2"], "rejected": []}
    page = service.admin.get(url, params={"limit": 10}, timeout=5).json()
    assert [e["idempotency_key"] for e in page["events"]] == ["k-0", "k-1", "k-2", "k-3"]
    assert [e["deliveries"] for e in page["events"]] == [1, 1, 2, 1]
    assert page["events"][0]["payload"] == {"i": 0}
    assert service.view.event_count(STORE) == 4


def test_invalid_event_is_rejected_alone(service: Service) -> None:
    url = f"{service.url}/v1/stores/{STORE}/events"
    bad = {"idempotency_key": "bad", "stream": "basket", "kind": "pick", "t": "soon", "payload": {}}
    answer = service.gateway.post(url, json={"events": [_event(0), bad, {"no": "key"}]}, timeout=5).json()
    assert answer["accepted"] == ["k-0"]
    assert [r["idempotency_key"] for r in answer["rejected"]] == ["bad", ""]
    assert answer["rejected"][0]["reason"].startswith("t:")


def test_body_that_is_not_a_batch_is_one_clear_400(service: Service) -> None:
    url = f"{service.url}/v1/stores/{STORE}/events"
    for body in (b"not json", b"[]", b'{"events": 3}'):
        answer = service.gateway.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=5)
        assert answer.status_code == 400 and answer.json()["detail"]
