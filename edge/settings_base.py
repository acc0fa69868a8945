"""Base class of every configuration section: unknown keys are errors, every field is described,
numbers are finite."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A configuration section or message model validated at the door (NaN and Infinity refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)
