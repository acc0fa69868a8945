"""Offer model building: ``from models.offers import build`` (same as ``shelf-models build``)."""

from models.offers.build import build

__all__ = ["build"]
