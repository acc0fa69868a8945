"""``shelf-models train-picks``: render frames, train the picks model with numpy, export ONNX + manifest.

Reproducible: the same seed and options give the same ONNX bytes (the manifest records the sha256).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np

from models.picks.dataset import render_crops
from models.picks.mlp import CONTRACT, Mlp, pool_features
from simulators.store_layout import find_online_retail, top_products

DEFAULT_OUT = Path(__file__).parent
MODEL_FILE = "picks.onnx"
MANIFEST_FILE = "manifest.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="Directory for picks.onnx and manifest.json."
    )
    parser.add_argument("--seed", type=int, default=7, help="Seed of rendering, initialisation and batches.")
    parser.add_argument("--products", type=int, default=48, help="Catalogue size: the most-bought products.")
    parser.add_argument(
        "--scenarios", type=int, default=80, help="Rendered training scenarios (16 reaches each)."
    )
    parser.add_argument("--epochs", type=int, default=30, help="Training epochs.")
    parser.add_argument(
        "--retail-csv", type=Path, default=None, help="online_retail.csv.gz (default: ../shared/data)."
    )
    parser.add_argument(
        "--catalogue",
        type=Path,
        default=None,
        help="JSON list of product codes to use instead of reading the Online Retail data.",
    )


def catalogue_from(args: argparse.Namespace) -> list[str]:
    if args.catalogue is not None:
        codes = json.loads(args.catalogue.read_text())
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise SystemExit(f"{args.catalogue}: expected a JSON list of product codes")
        return codes
    return [code for code, _, _ in top_products(find_online_retail(args.retail_csv), args.products)]


def evaluate(model: Mlp, x: np.ndarray, hand: np.ndarray, product: np.ndarray) -> dict[str, float]:
    ph, pp, _ = model.forward(x)
    holding = product >= 0
    return {
        "hand_accuracy": round(float((ph.argmax(1) == hand).mean()), 4),
        "product_accuracy_when_holding": round(float((pp[holding].argmax(1) == product[holding]).mean()), 4),
        "samples": int(x.shape[0]),
    }


def train(
    catalogue: list[str], out: Path, seed: int, scenarios: int, epochs: int, log: bool = True
) -> dict[str, object]:
    t0 = time.monotonic()
    train_set = render_crops(catalogue, scenarios, seed)
    val_set = render_crops(catalogue, max(4, scenarios // 6), seed + 10_000)
    if log:
        print(
            f"rendered {len(train_set.hand)} training and {len(val_set.hand)} validation crops "
            f"in {time.monotonic() - t0:.1f} s",
            flush=True,
        )
    x, xv = pool_features(train_set.crops), pool_features(val_set.crops)
    model = Mlp(len(catalogue), seed)
    model.fit(x, train_set.hand, train_set.product, epochs=epochs, log=log)
    metrics = evaluate(model, xv, val_set.hand, val_set.product)
    recipe: dict[str, object] = {
        "seed": seed,
        "scenarios": scenarios,
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
        "command": f"shelf-models train-picks --seed {seed} --scenarios {scenarios} --epochs {epochs} "
        f"--products {len(catalogue)}",
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
    train(catalogue_from(args), args.out, args.seed, args.scenarios, args.epochs)
    return 0
