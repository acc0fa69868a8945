"""The gateway's HTTP client for the central backend (requests).

Every call has a timeout. Failures are typed so callers can tell what to do:

- :class:`BackendUnavailable`: no answer (refused, timeout, 5xx, 429). Retry later with backoff.
- :class:`BackendRejected`: the backend answered 4xx: our request is wrong or not allowed. Retrying
  the same request will not help.
- :class:`BackendProtocolError`: a 2xx answer we cannot understand (not JSON, wrong shape).

The API is described in backend/openapi.json (generated from the central service, backend/).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from edge.errors import EdgeError

log = logging.getLogger("edge.sync.client")


class BackendError(EdgeError):
    """Base of every backend failure; ``url`` is the request that failed."""

    def __init__(self, url: str, message: str) -> None:
        self.url = url
        super().__init__(f"{url}: {message}")


class BackendUnavailable(BackendError):
    """No usable answer: connection refused, timeout, 5xx or 429. Try again later."""

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        self.reason = reason
        self.status = status
        super().__init__(url, f"backend unavailable ({reason})")


class BackendRejected(BackendError):
    """The backend refused the request with a 4xx status; ``detail`` is its explanation."""

    def __init__(self, url: str, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(url, f"rejected with HTTP {status}: {detail}")


class BackendProtocolError(BackendError):
    """A 2xx answer that is not what the API promises."""

    def __init__(self, url: str, reason: str, body: bytes = b"") -> None:
        self.reason = reason
        self.body = body[:200]
        super().__init__(url, f"unexpected answer: {reason}")


@dataclass(frozen=True, slots=True)
class PushResult:
    """What the backend did with a batch of events, by idempotency key."""

    accepted: tuple[str, ...]
    duplicates: tuple[str, ...]
    rejected: tuple[tuple[str, str], ...]  # (idempotency key, reason)


@dataclass(frozen=True, slots=True)
class Pulled:
    """A resource fetched with a conditional GET; ``data`` is None when it has not changed."""

    resource: str
    etag: str
    data: bytes | None

    @property
    def changed(self) -> bool:
        return self.data is not None


Progress = Callable[[int, int], None]  # (bytes done, total bytes)


class BackendClient:
    """Talks to one backend on behalf of one store's gateway."""

    def __init__(
        self,
        base_url: str,
        store: str,
        token: str | None = None,
        timeout_s: float = 10.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.store = store
        self.timeout_s = timeout_s
        self.session = session or requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["User-Agent"] = "shelf-edge"

    # ------------------------------------------------------------------ plumbing
    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = self.url(path)
        kwargs.setdefault("timeout", self.timeout_s)
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.Timeout:
            raise BackendUnavailable(url, f"no answer within {self.timeout_s:g} s") from None
        except requests.ConnectionError as exc:
            raise BackendUnavailable(url, f"cannot connect: {type(exc).__name__}") from None
        except requests.RequestException as exc:
            raise BackendUnavailable(url, f"request failed: {exc}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise BackendUnavailable(url, f"HTTP {response.status_code}", response.status_code)
        if response.status_code >= 400:
            raise BackendRejected(url, response.status_code, _detail(response))
        return response

    def _json(self, response: requests.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise BackendProtocolError(response.url, "body is not JSON", response.content) from None
        if not isinstance(body, dict):
            raise BackendProtocolError(response.url, "body is not a JSON object", response.content)
        return body

    # ------------------------------------------------------------------ events
    def push_events(self, batch_key: str, events: list[dict[str, Any]]) -> PushResult:
        """POST a batch of events; the backend stores each idempotency key once."""
        response = self._request(
            "POST",
            f"/v1/stores/{self.store}/events",
            json={"events": events},
            headers={"Idempotency-Key": batch_key},
        )
        body = self._json(response)
        try:
            accepted = tuple(str(k) for k in body["accepted"])
            duplicates = tuple(str(k) for k in body["duplicates"])
            rejected = tuple((str(r["idempotency_key"]), str(r["reason"])) for r in body["rejected"])
        except (KeyError, TypeError) as exc:
            raise BackendProtocolError(response.url, f"events answer lacks {exc}", response.content) from None
        answered = set(accepted) | set(duplicates) | {k for k, _ in rejected}
        missing = {str(e["idempotency_key"]) for e in events} - answered
        if missing:
            raise BackendProtocolError(
                response.url, f"no verdict for {len(missing)} events", response.content
            )
        return PushResult(accepted, duplicates, rejected)

    # ------------------------------------------------------------------ pull
    def pull(self, resource: str, etag: str | None = None) -> Pulled:
        """Conditional GET of ``/v1/stores/{store}/{resource}``; 304 gives ``data=None``."""
        headers = {"If-None-Match": etag} if etag else {}
        response = self._request("GET", f"/v1/stores/{self.store}/{resource}", headers=headers)
        new_etag = response.headers.get("ETag")
        if response.status_code == 304:
            return Pulled(resource, etag or "", None)
        if not new_etag:
            raise BackendProtocolError(response.url, "no ETag header", response.content)
        try:
            json.loads(response.content)
        except ValueError:
            raise BackendProtocolError(response.url, "body is not JSON", response.content) from None
        return Pulled(resource, new_etag, response.content)

    # ------------------------------------------------------------------ check-ins
    def check_ins(self, after: int, wait_s: float) -> bytes:
        """Long poll of relayed check-ins after cursor ``after`` (edge.sync.checkins); raw JSON body."""
        response = self._request(
            "GET",
            f"/v1/stores/{self.store}/check-ins",
            params={"after": after, "wait_s": wait_s},
            timeout=self.timeout_s + wait_s,
        )
        return response.content

    # ------------------------------------------------------------------ releases
    def latest_release(self, model: str) -> bytes | None:
        """Signed metadata of the newest release of ``model`` (raw bytes, verified by the caller)."""
        try:
            response = self._request("GET", f"/v1/releases/{model}/latest")
        except BackendRejected as exc:
            if exc.status == 404:
                return None
            raise
        return response.content

    def download(
        self, model: str, version: int, name: str, dest: Path, size: int, progress: Progress | None = None
    ) -> Path:
        """Download one release file to ``dest``, resuming from ``dest.part`` if a previous try stopped."""
        part = dest.with_name(dest.name + ".part")
        done = part.stat().st_size if part.exists() else 0
        if done > size:
            part.unlink()
            done = 0
        path = f"/v1/releases/{model}/{version}/files/{name}"
        if done < size:
            headers = {"Range": f"bytes={done}-"} if done else {}
            response = self._request("GET", path, headers=headers, stream=True)
            if done and response.status_code != 206:
                done = 0  # server ignored the range: start over
            mode = "ab" if done else "wb"
            try:
                with part.open(mode) as fh:
                    for chunk in response.iter_content(16 * 1024):
                        fh.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, size)
            except requests.RequestException as exc:
                raise BackendUnavailable(
                    self.url(path), f"download interrupted at {done} bytes: {exc}"
                ) from None
            finally:
                response.close()
        part.replace(dest)
        return dest

    def report_release(self, model: str, version: int, outcome: str, detail: str, at: float) -> None:
        self._request(
            "POST",
            f"/v1/stores/{self.store}/releases/report",
            json={"model": model, "version": version, "outcome": outcome, "detail": detail, "at": at},
        )

    # ------------------------------------------------------------------ publishing (central IT)
    def upload_release_file(self, model: str, version: int, name: str, data: bytes) -> None:
        self._request(
            "PUT",
            f"/v1/releases/{model}/{version}/files/{name}",
            data=data,
            headers={
                "Content-Type": "application/octet-stream",
                "X-Sha256": hashlib.sha256(data).hexdigest(),
            },
        )

    def publish_release(self, model: str, version: int, metadata: bytes) -> None:
        self._request(
            "POST",
            f"/v1/releases/{model}/{version}",
            data=metadata,
            headers={"Content-Type": "application/json"},
        )


def _detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:500]
    return str(body)[:200]
