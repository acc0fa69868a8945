"""Offer engine at the edge: the ONNX offer model, catalogue, rules, experiments and the decision.

The pure decision core lives in ``edge.offers.decision`` / ``rules`` / ``experiments`` (no I/O, no
clock, no onnxruntime use); :class:`OfferModel` is the onnxruntime adapter.
"""

from edge.offers.candidates import Candidate
from edge.offers.model import ModelLoadError, OfferModel
from edge.offers.profile import Profile

__all__ = ["Candidate", "ModelLoadError", "OfferModel", "Profile"]
