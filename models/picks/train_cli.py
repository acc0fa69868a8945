"""``shelf-models train-picks TRAIN.npz VAL.npz``: train the picks model with numpy on crops files
(models/picks/crops.py; the simulator renders them with ``shelf-sim render-crops``), export ONNX +
manifest. Central training reads files and never imports the simulator.

Reproducible: the same crops, seed and options give the same ONNX bytes (the manifest records the sha256).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np

from models.picks.crops import CropFileError, CropSet, load_crops
from models.picks.mlp import CONTRACT, Mlp, pool_features

DEFAULT_OUT = Path(__file__).parent
MODEL_FILE = "picks.onnx"
MANIFEST_FILE = "manifest.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("train_crops", type=Path, help="Training crops file (shelf-sim render-crops).")
    parser.add_argument("val_crops", type=Path, help="Validation crops file, same catalogue.")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="Directory for picks.onnx and manifest.json."
    )
    parser.add_argument("--seed", type=int, default=7, help="Seed of initialisation and batches.")
    parser.add_argument("--epochs", type=int, default=30, help="Training epochs.")


def evaluate(model: Mlp, x: np.ndarray, hand: np.ndarray, product: np.ndarray) -> dict[str, float]:
    ph, pp, _ = model.forward(x)
    holding = product >= 0
    return {
        "hand_accuracy": round(float((ph.argmax(1) == hand).mean()), 4),
        "product_accuracy_when_holding": round(float((pp[holding].argmax(1) == product[holding]).mean()), 4),
        "samples": int(x.shape[0]),
    }


def train(
    train_set: CropSet,
    val_set: CropSet,
    catalogue: list[str],
    out: Path,
    seed: int,
    epochs: int,
    source: dict[str, object],
    log: bool = True,
) -> dict[str, object]:
    """Train on crops (``source`` says where they came from, for the manifest's recipe)."""
    t0 = time.monotonic()
    x, xv = pool_features(train_set.crops), pool_features(val_set.crops)
    model = Mlp(len(catalogue), seed)
    model.fit(x, train_set.hand, train_set.product, epochs=epochs, log=log)
    metrics = evaluate(model, xv, val_set.hand, val_set.product)
    recipe: dict[str, object] = {
        **source,
        "seed": seed,
        "epochs": epochs,
        "products": len(catalogue),
        "trainer": "models.picks.mlp.Mlp (numpy, Adam, cosine lr 1e-3, batch 128)",
    }
    proto = model.to_onnx(catalogue, recipe)
    out.mkdir(parents=True, exist_ok=True)
    data = proto.SerializeToString()
    (out / MODEL_FILE).write_bytes(data)
    manifest: dict[str, object] = {
        "model": MODEL_FILE,
        "contract": CONTRACT,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "recipe": recipe,
        "products": catalogue,
        "validation": metrics,
        "command": f"shelf-models train-picks {source.get('train', 'TRAIN.npz')} "
        f"{source.get('val', 'VAL.npz')} --seed {seed} --epochs {epochs}",
    }
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    if log:
        print(
            f"validation: {metrics}; wrote {out / MODEL_FILE} ({len(data)} bytes) "
            f"in {time.monotonic() - t0:.1f} s",
            flush=True,
        )
    return manifest


def run(args: argparse.Namespace) -> int:
    try:
        train_set, catalogue = load_crops(args.train_crops)
        val_set, val_catalogue = load_crops(args.val_crops)
    except CropFileError as exc:
        print(f"error: {exc}")
        return 2
    if val_catalogue != catalogue:
        print(f"error: {args.val_crops}: its catalogue differs from {args.train_crops}'s")
        return 2
    source = {"train": args.train_crops.name, "val": args.val_crops.name, "crops": len(train_set.hand)}
    train(train_set, val_set, catalogue, args.out, args.seed, args.epochs, source)
    return 0
