"""Training crops for the picks model, as files: the trainer reads them, whoever renders or
collects them writes them (the simulator's ``shelf-sim render-crops``; the gateway's field labels,
edge/vision/field_store.py).

File: a numpy ``.npz`` with ``crops`` [N, 64, 64, 3] uint8 BGR lane crops (edge.vision.lanes), ``hand``
[N] int64 (0 no hand, 1 empty hand, 2 hand holding an item), ``product`` [N] int64 (index into
``products`` when holding, else -1) and ``products`` (the catalogue, product codes in index order).
Central training never imports the simulator.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.atomic_file import write_atomic
from edge.vision.lanes import CROP_SIZE


class CropFileError(ValueError):
    """A crops file is missing, unreadable or does not hold what the trainer needs."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True, slots=True)
class CropSet:
    crops: np.ndarray  # [N, CROP_SIZE, CROP_SIZE, 3] uint8 BGR
    hand: np.ndarray  # [N] int64: 0 none, 1 empty, 2 holding
    product: np.ndarray  # [N] int64: product index, -1 when not holding


def save_crops(path: Path, crops: CropSet, products: list[str], mode: int = 0o644) -> None:
    """Write a crops file atomically (a crash leaves the old file or the new one, never half)."""
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        crops=crops.crops,
        hand=crops.hand,
        product=crops.product,
        products=np.array(products, dtype=str),
    )
    write_atomic(path, buf.getvalue(), mode)


def load_crops(path: Path) -> tuple[CropSet, list[str]]:
    """The crops of ``path`` and their catalogue; :class:`CropFileError` naming what is wrong."""
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = {"crops", "hand", "product", "products"} - set(data.files)
            if missing:
                raise CropFileError(path, f"missing arrays {sorted(missing)}")
            crops, hand, product = data["crops"], data["hand"], data["product"]
            products = [str(p) for p in data["products"]]
    except OSError as exc:
        raise CropFileError(path, f"cannot read: {exc}") from None
    except ValueError as exc:
        raise CropFileError(path, f"not a crops file: {exc}") from None
    n = len(hand)
    if crops.shape != (n, CROP_SIZE, CROP_SIZE, 3) or crops.dtype != np.uint8 or product.shape != (n,):
        raise CropFileError(path, f"expected {n} uint8 crops of {CROP_SIZE}x{CROP_SIZE}x3 and {n} labels")
    if n and (hand.min() < 0 or hand.max() > 2 or product.max() >= len(products) or product.min() < -1):
        raise CropFileError(path, "labels out of range (hand 0-2, product -1 or a catalogue index)")
    return CropSet(crops, hand.astype(np.int64), product.astype(np.int64)), products
