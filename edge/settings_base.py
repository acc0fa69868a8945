"""Base class of every configuration section: unknown keys are errors, every field is described."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A configuration section or message model validated at the door."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
