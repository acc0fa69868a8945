"""``shelf-models train-picks TRAIN.npz VAL.npz``: train the picks model with numpy on crops files
(edge/vision/crops_file.py; the simulator renders them with ``shelf-sim render-crops``), export ONNX +
manifest. Central training reads files and never imports the simulator.

``shelf-models train-picks --from-field DIR``: fine-tune a picks model (``--base``, default the bundled
one) on the field labels a gateway collected (edge/vision/field_labels.py): every crops file in DIR,
one in ``--holdout`` of the crops (by a seeded draw) kept aside to validate on; ``--val FILE`` also
scores the base and the tuned model on crops with true labels (e.g. rendered from that store).

Reproducible: the same crops, seed and options give the same ONNX bytes (the manifest records the sha256).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np

from edge.sync.validate import write_golden
from edge.vision.crops_file import CropFileError, CropSet, load_crops
from edge.vision.lanes import CROP_SIZE, to_tensor
from models.picks.mlp import CONTRACT, Mlp, pool_features

DEFAULT_OUT = Path(__file__).parent
MODEL_FILE = "picks.onnx"
MANIFEST_FILE = "manifest.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "train_crops", type=Path, nargs="?", help="Training crops file (shelf-sim render-crops)."
    )
    parser.add_argument("val_crops", type=Path, nargs="?", help="Validation crops file, same catalogue.")
    parser.add_argument(
        "--from-field",
        type=Path,
        default=None,
        help="Fine-tune on the field-label crops files in this directory instead (gateway field labels).",
    )
    parser.add_argument(
        "--base", type=Path, default=None, help="Model to fine-tune (default: the bundled picks.onnx)."
    )
    parser.add_argument(
        "--holdout", type=float, default=0.2, help="Share of field crops kept aside for validation."
    )
    parser.add_argument(
        "--val",
        type=Path,
        default=None,
        help="With --from-field: also score base and tuned on this crops file.",
    )
    parser.add_argument(
        "--lr", type=float, default=None, help="Learning rate (default 1e-3; 3e-4 fine-tuning)."
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="Directory for picks.onnx, manifest.json and golden.json (default models/picks/; "
        "required with --from-field).",
    )
    parser.add_argument("--seed", type=int, default=7, help="Seed of initialisation and batches.")
    parser.add_argument(
        "--epochs", type=int, default=None, help="Training epochs (default 30; 8 fine-tuning)."
    )


def evaluate(model: Mlp, x: np.ndarray, hand: np.ndarray, product: np.ndarray) -> dict[str, float]:
    ph, pp, _ = model.forward(x)
    holding = product >= 0
    return {
        "hand_accuracy": round(float((ph.argmax(1) == hand).mean()), 4),
        "product_accuracy_when_holding": round(float((pp[holding].argmax(1) == product[holding]).mean()), 4),
        "samples": int(x.shape[0]),
    }


def export(
    model: Mlp,
    catalogue: list[str],
    out: Path,
    seed: int,
    epochs: int,
    source: dict[str, object],
    metrics: dict[str, float],
    golden_crop: np.ndarray,
) -> dict[str, object]:
    """Write ``picks.onnx``, ``manifest.json`` and ``golden.json`` (for a signed release, from
    ``golden_crop``, a BGR lane crop) of a trained model into ``out``; the manifest."""
    recipe: dict[str, object] = {
        "trainer": "models.picks.mlp.Mlp (numpy, Adam, cosine lr 1e-3, batch 128)",
        **source,
        "seed": seed,
        "epochs": epochs,
        "products": len(catalogue),
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
    write_lane_golden(out, golden_crop)
    return manifest


def write_lane_golden(directory: Path, crop: np.ndarray) -> Path:
    """``golden.json`` for a signed release (``shelf-models publish DIR --model picks``): one lane
    crop, its values rounded to sixteenths (exact in float32, short in JSON), and the model's answers."""
    x = np.zeros((1, 3, CROP_SIZE, CROP_SIZE), np.float32)
    to_tensor(crop[None], x)
    return write_golden(directory, MODEL_FILE, [{"crops": np.round(x * 16) / 16}])


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
    manifest = export(model, catalogue, out, seed, epochs, source, metrics, val_set.crops[0])
    if log:
        print(
            f"validation: {metrics}; wrote {out / MODEL_FILE} ({manifest['bytes']} bytes) "
            f"in {time.monotonic() - t0:.1f} s",
            flush=True,
        )
    return manifest


def load_field(directory: Path, catalogue: list[str]) -> CropSet:
    """Every crops file in ``directory``, products mapped onto ``catalogue`` (unknown ones: -1)."""
    files = sorted(directory.glob("*.npz"))
    if not files:
        raise CropFileError(directory, "no crops files (*.npz) in it")
    parts = []
    index = {p: i for i, p in enumerate(catalogue)}
    for path in files:
        crops, products = load_crops(path)
        remap = np.array([index.get(p, -1) for p in products] + [-1], np.int64)
        parts.append(CropSet(crops.crops, crops.hand, remap[crops.product]))  # -1 indexes the extra -1
    return CropSet(
        np.concatenate([p.crops for p in parts]),
        np.concatenate([p.hand for p in parts]),
        np.concatenate([p.product for p in parts]),
    )


def fine_tune(args: argparse.Namespace) -> int:
    if args.out is None:
        print("error: --from-field needs --out DIR (the tuned model must not overwrite the bundled one)")
        return 2
    base_path = args.base or DEFAULT_OUT / MODEL_FILE
    try:
        base, catalogue = Mlp.from_onnx(base_path, args.seed)
        field = load_field(args.from_field, catalogue)
        val = load_crops(args.val)[0] if args.val is not None else None
        val_catalogue = load_crops(args.val)[1] if args.val is not None else catalogue
    except (CropFileError, ValueError, OSError) as exc:
        print(f"error: {exc}")
        return 2
    if val_catalogue != catalogue:
        print(f"error: {args.val}: its catalogue differs from {base_path}'s")
        return 2
    rng = np.random.default_rng(args.seed)
    aside = rng.random(len(field.hand)) < args.holdout
    train_set = CropSet(field.crops[~aside], field.hand[~aside], field.product[~aside])
    held = CropSet(field.crops[aside], field.hand[aside], field.product[aside])
    held_x = pool_features(held.crops)
    before = {"field_holdout": evaluate(base, held_x, held.hand, held.product)}
    if val is not None:
        before["val"] = evaluate(base, pool_features(val.crops), val.hand, val.product)
    counts = np.bincount(train_set.hand, minlength=3).tolist()
    print(f"field crops: {len(field.hand)} (no hand / hand in / item out: {counts} for training)", flush=True)
    print(f"before: {before}", flush=True)
    epochs = args.epochs or 8
    base.fit(
        pool_features(train_set.crops),
        train_set.hand,
        train_set.product,
        epochs=epochs,
        lr=args.lr or 3e-4,
        log=True,
    )
    source: dict[str, object] = {
        "field": str(args.from_field),
        "base": base_path.name,
        "crops": len(train_set.hand),
        "holdout": len(held.hand),
        "trainer": f"models.picks.mlp.Mlp fine-tuned (numpy, Adam, cosine lr {args.lr or 3e-4:g}, batch 128)",
    }
    after = {"field_holdout": evaluate(base, held_x, held.hand, held.product)}
    if val is not None:
        after["val"] = evaluate(base, pool_features(val.crops), val.hand, val.product)
    print(f"after: {after}", flush=True)
    manifest = export(
        base, catalogue, args.out, args.seed, epochs, source, after["field_holdout"], field.crops[0]
    )
    manifest["validation_before"] = before
    manifest["validation_after"] = after
    manifest["command"] = (
        f"shelf-models train-picks --from-field {args.from_field} --seed {args.seed} --epochs {epochs}"
    )
    (args.out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {args.out / MODEL_FILE}", flush=True)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.from_field is not None:
        return fine_tune(args)
    if args.train_crops is None or args.val_crops is None:
        print("error: give TRAIN.npz and VAL.npz, or --from-field DIR")
        return 2
    args.epochs = args.epochs or 30
    args.out = args.out or DEFAULT_OUT
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
