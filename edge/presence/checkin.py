"""The check-in message of backgrounded iOS apps (TOKENS.md section 4), validated at the door.

A backgrounded iOS app cannot advertise; it sends its current token with a freshness tag over its
network connection instead. Whatever carries it (the backend relay, an HTTP endpoint of the
gateway), the JSON body is parsed here and handed to ``PresenceService.check_in``::

    shopper = presence.check_in(parse_check_in(body), now=time.time())   # None: refused

A check-in says "this enrolled shopper is in the store now"; it carries no position, so it never
creates shelf presence.
"""

from __future__ import annotations

from pydantic import Field, ValidationError

from edge.errors import PayloadError
from edge.presence.tokens import TAG_LEN, TOKEN_LEN, CheckIn
from edge.settings_base import Section


class CheckInMessage(Section):
    """JSON body of a check-in."""

    store: str = Field(min_length=1, max_length=64, description="Store the app believes it is in.")
    token: str = Field(
        pattern=rf"^[0-9a-fA-F]{{{2 * TOKEN_LEN}}}$", description="Current rolling token, hex."
    )
    t_ms: int = Field(ge=0, description="Phone time of the check-in, unix milliseconds.")
    nonce: str = Field(
        pattern=r"^([0-9a-fA-F]{2}){8,32}$", description="Fresh random nonce, 8..32 bytes hex."
    )
    tag: str = Field(pattern=rf"^[0-9a-fA-F]{{{2 * TAG_LEN}}}$", description="Freshness tag, hex.")

    def to_check_in(self) -> CheckIn:
        return CheckIn(
            self.store,
            bytes.fromhex(self.token),
            self.t_ms,
            bytes.fromhex(self.nonce),
            bytes.fromhex(self.tag),
        )


def parse_check_in(body: bytes, source: str = "check-in") -> CheckIn:
    """Validate a check-in body; raise PayloadError naming the field and the reason."""
    try:
        return CheckInMessage.model_validate_json(body).to_check_in()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "<body>"
        raise PayloadError(source, f"{where}: {first['msg']}", body) from None
