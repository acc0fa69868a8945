"""``ModelHolder``: the model the gateway serves now, swapped atomically when a new one verifies.

    holder = ModelHolder(OfferModel.load(dir_a))
    holder.current.rank(...)                     # readers take one reference per decision
    old = holder.load_and_swap(dir_b)            # verify dir_b first; on ModelLoadError nothing changes
    holder.swap(old)                             # roll back (e.g. failed health window)

A reader that took ``holder.current`` keeps using that model to the end of its decision even if a
swap happens meanwhile; swapping is one reference assignment under a lock.
"""

from __future__ import annotations

import threading
from pathlib import Path

from edge.offers.model import OfferModel


class ModelHolder:
    """Holds the current :class:`OfferModel` (or None before the first one verified)."""

    def __init__(self, model: OfferModel | None = None) -> None:
        self._model = model
        self._lock = threading.Lock()

    @property
    def current(self) -> OfferModel | None:
        return self._model

    def swap(self, new: OfferModel) -> OfferModel | None:
        """Serve ``new`` from now on; return the model served before."""
        with self._lock:
            old, self._model = self._model, new
        return old

    def load_and_swap(self, directory: str | Path) -> OfferModel | None:
        """Verify and load ``directory``, then swap it in. Raises ModelLoadError and keeps the
        current model when the directory does not verify."""
        new = OfferModel.load(directory)
        return self.swap(new)
