"""Offer engine at the edge: the ONNX offer model, catalogue, rules, experiments and the decision.

Importing this package loads onnxruntime (for :class:`OfferModel`); the pure decision core lives in
``edge.offers.decision`` / ``rules`` / ``experiments`` and does not.
"""

from edge.offers.candidates import Candidate
from edge.offers.model import ModelLoadError, OfferModel
from edge.offers.profile import Profile

__all__ = ["Candidate", "ModelLoadError", "OfferModel", "Profile"]
