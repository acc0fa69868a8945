"""Routing for the reference backend: one explicit list of :class:`Route` (see routes.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from simulators.backend.store import BackendStore

Auth = Literal["none", "gateway", "admin"]


@dataclass(frozen=True, slots=True)
class Principal:
    role: Literal["admin", "gateway", "anonymous"]
    store: str | None


@dataclass(slots=True)
class Request:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    store: BackendStore
    principal: Principal
    server: Any  # the BackendServer (for options such as fault injection)


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
        if isinstance(data, BaseModel):
            body = data.model_dump_json().encode()
        else:
            body = json.dumps(data, separators=(",", ":")).encode()
        return cls(status, body, {"Content-Type": "application/json", **(headers or {})})

    @classmethod
    def problem(cls, status: int, detail: str) -> Response:
        return cls.json(status, {"detail": detail})


class HttpProblem(Exception):
    """Raised by a handler to answer with an error status and a detail."""

    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(detail)


Handler = Callable[[Request], Response]


@dataclass(frozen=True, slots=True)
class Route:
    """One operation: method + OpenAPI-style path ('/v1/stores/{store}/events'), handler, docs."""

    method: str
    path: str
    handler: Handler
    summary: str
    auth: Auth = "gateway"
    body: type[BaseModel] | None = None
    answer: type[BaseModel] | None = None
    raw_content: str | None = None  # content type of a raw (non-JSON-model) request or answer body
    statuses: tuple[int, ...] = (200,)

    def pattern(self) -> re.Pattern[str]:
        regex = re.sub(r"\{([a-z_]+)\}", r"(?P<\1>[^/]+)", self.path)
        return re.compile(f"^{regex}$")


def parse_body(request: Request, model: type[BaseModel]) -> Any:
    from pydantic import ValidationError

    try:
        return model.model_validate_json(request.body or b"null")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "<body>"
        raise HttpProblem(400, f"{where}: {first['msg']}") from None
