"""Typed service errors; app.py turns each into ``{"detail": ...}`` with its HTTP status."""

from __future__ import annotations


class ServiceError(Exception):
    """A request the service refuses; ``status`` is the HTTP status, ``detail`` says why."""

    status = 400

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class Invalid(ServiceError):
    status = 400


class Unauthorized(ServiceError):
    status = 401


class Forbidden(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


class TooLarge(ServiceError):
    status = 413


class TooManyAttempts(ServiceError):
    status = 429


class RangeNotSatisfiable(ServiceError):
    status = 416

    def __init__(self, detail: str, size: int) -> None:
        self.size = size
        super().__init__(detail)
