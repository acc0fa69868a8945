"""Documents with ETags, customer keys per day, and releases kept as files with resumable downloads."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from backend.db.models import ReleaseFile
from tests.backend.conftest import STORE, Service

pytestmark = pytest.mark.integration


def test_documents_have_etags_and_conditional_gets(service: Service) -> None:
    url = f"{service.url}/v1/stores/{STORE}"
    assert service.gateway.get(f"{url}/catalogue", timeout=5).status_code == 404
    assert service.gateway.get(f"{url}/shelves", timeout=5).status_code == 404
    etag = service.admin.put(f"{url}/catalogue", data=b'[{"p": 1}]', timeout=5).headers["ETag"]
    got = service.gateway.get(f"{url}/catalogue", timeout=5)
    assert got.content == b'[{"p": 1}]' and got.headers["ETag"] == etag
    assert (
        service.gateway.get(f"{url}/catalogue", headers={"If-None-Match": etag}, timeout=5).status_code == 304
    )
    etag2 = service.admin.put(f"{url}/catalogue", data=b'[{"p": 2}]', timeout=5).headers["ETag"]
    assert etag2 != etag
    assert (
        service.gateway.get(f"{url}/catalogue", headers={"If-None-Match": etag}, timeout=5).status_code == 200
    )
    assert service.admin.put(f"{url}/catalogue", data=b"{oops", timeout=5).status_code == 400
    assert service.admin.put(f"{url}/customer-keys/2026-11-30", data=b'{"keys": []}', timeout=5).ok
    assert service.gateway.get(f"{url}/customer-keys/2026-11-30", timeout=5).json() == {"keys": []}
    assert service.gateway.get(f"{url}/customer-keys/tomorrow", timeout=5).status_code == 400


def test_release_file_is_streamed_to_disk_and_downloads_resume(service: Service) -> None:
    data = bytes(range(256)) * 1000
    digest = hashlib.sha256(data).hexdigest()
    url = f"{service.url}/v1/releases/offers/1/files/model.onnx"
    wrong = service.admin.put(url, data=data, headers={"X-Sha256": "0" * 64}, timeout=5)
    assert wrong.status_code == 400 and "damaged" in wrong.json()["detail"]
    stored = service.admin.put(
        url, data=iter([data[:1000], data[1000:]]), headers={"X-Sha256": digest}, timeout=5
    )
    assert stored.json() == {"sha256": digest, "size": len(data)}
    with service.view.sessions() as session:
        row = session.scalars(select(ReleaseFile)).one()
    assert (service.settings.data_dir / row.path).read_bytes() == data
    assert list((service.settings.data_dir / row.path).parent.iterdir()) == [
        service.settings.data_dir / row.path
    ]
    whole = service.gateway.get(url, timeout=5)
    assert whole.status_code == 200 and whole.content == data
    rest = service.gateway.get(url, headers={"Range": "bytes=1000-"}, timeout=5)
    assert rest.status_code == 206 and rest.content == data[1000:]
    assert rest.headers["Content-Range"] == f"bytes 1000-{len(data) - 1}/{len(data)}"
    past = service.gateway.get(url, headers={"Range": f"bytes={len(data) + 1}-"}, timeout=5)
    assert past.status_code == 416 and past.headers["Content-Range"] == f"bytes */{len(data)}"
    assert (
        service.admin.put(
            f"{service.url}/v1/releases/offers/1/files/..secret", data=b"x", timeout=5
        ).status_code
        == 400
    )
    assert service.gateway.put(url, data=b"x", timeout=5).status_code == 403


def test_release_reports_are_kept(service: Service) -> None:
    url = f"{service.url}/v1/stores/{STORE}/releases/report"
    report = {"model": "offers", "version": 2, "outcome": "kept", "detail": "", "at": 1.0}
    assert service.gateway.post(url, json=report, timeout=5).json() == {"stored": True}
    bad = service.gateway.post(url, json={**report, "outcome": "exploded"}, timeout=5)
    assert bad.status_code == 400 and bad.json()["detail"].startswith("outcome:")
    assert [(r["version"], r["outcome"]) for r in service.view.reports(STORE)] == [(2, "kept")]
