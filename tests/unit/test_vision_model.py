"""Lane models: the bundled picks model, a YOLO-layout model, and clear refusals of anything else."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edge.events import ShelfId
from edge.vision.crops_file import CropFileError, load_crops
from edge.vision.lanes import LaneLayout, grid_lanes
from edge.vision.model import ModelContractError, PicksModel, YoloModel, decode_yolo, load_lane_model
from edge.vision.stage import DEFAULT_MODEL
from models.picks.train_cli import train
from simulators.camera.crops import render_files

LAYOUT = LaneLayout(tuple(grid_lanes(ShelfId(1, 1), 320, 240, 6, 28, 174)), 320, 240)


def yolo_model(path: Path, names: dict[int, str], dets: np.ndarray, size: int = 64) -> Path:
    """A detector with the Ultralytics output layout [1, 4+nc, N] that always reports ``dets``."""
    zero = numpy_helper.from_array(np.array(0.0, np.float32), "zero")
    const = numpy_helper.from_array(dets.astype(np.float32)[None], "dets")
    nodes = [
        helper.make_node("ReduceSum", ["images"], ["total"], keepdims=0),
        helper.make_node("Mul", ["total", "zero"], ["nothing"]),
        helper.make_node("Add", ["dets", "nothing"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "yolo-like",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, dets.shape[0], dets.shape[1]])],
        [zero, const],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, {"names": repr(names)})
    onnx.save(model, path)
    return path


def test_bundled_model_follows_the_picks_contract_and_its_manifest() -> None:
    manifest = json.loads((DEFAULT_MODEL.parent / "manifest.json").read_text())
    assert hashlib.sha256(DEFAULT_MODEL.read_bytes()).hexdigest() == manifest["sha256"]
    assert DEFAULT_MODEL.stat().st_size < 8_000_000
    model = load_lane_model(DEFAULT_MODEL)
    assert isinstance(model, PicksModel)
    assert list(model.products) == manifest["products"]
    frame = np.full((240, 320, 3), 128, np.uint8)
    scores = model.score(frame, LAYOUT, [0, 3, 5])
    assert scores.hand.shape == (3, 3) and scores.product.shape == (3, len(model.products))
    np.testing.assert_allclose(scores.hand.sum(axis=1), 1.0, rtol=1e-5)


def test_yolo_layout_is_accepted_and_mapped_to_lanes(tmp_path: Path) -> None:
    # Frame 320x240 letterboxed into 64x64: scale 0.2. A hand at frame (150, 100) is lane 2 (x 110-160),
    # holding a TEA box that overlaps it; a low-score COFFEE box elsewhere is dropped.
    dets = np.zeros((4 + 3, 3), np.float32)
    dets[:4, 0], dets[4, 0] = (30, 20, 4, 4), 0.9  # hand
    dets[:4, 1], dets[5, 1] = (30, 18, 4, 6), 0.8  # TEA
    dets[:4, 2], dets[6, 2] = (8, 8, 4, 4), 0.1  # COFFEE, below threshold
    path = yolo_model(tmp_path / "yolo.onnx", {0: "hand", 1: "TEA", 2: "COFFEE"}, dets)
    model = load_lane_model(path)
    assert isinstance(model, YoloModel) and model.products == ("TEA", "COFFEE")
    scores = model.score(np.zeros((240, 320, 3), np.uint8), LAYOUT, [0, 2])
    assert scores.hand[0].tolist() == [1.0, 0.0, 0.0]
    assert scores.hand[1].argmax() == 2 and scores.hand[1][2] == pytest.approx(0.9 * 0.8)
    assert scores.product[1].argmax() == 0  # TEA


def test_transposed_yolo_output_is_accepted(tmp_path: Path) -> None:
    dets = np.zeros((5, 4 + 2), np.float32)  # [N, 4+nc]
    path = yolo_model(tmp_path / "t.onnx", {0: "hand", 1: "TEA"}, dets)
    model = load_lane_model(path)
    assert isinstance(model, YoloModel) and model.transposed


def test_decode_yolo_keeps_the_best_of_overlapping_boxes() -> None:
    rows = np.array(
        [[50, 50, 20, 20, 0.9, 0.0], [51, 50, 20, 20, 0.7, 0.0], [10, 10, 4, 4, 0.0, 0.2]], np.float32
    )
    found = decode_yolo(rows, scale=0.5, threshold=0.35)
    assert len(found) == 1
    cls, score, box = found[0]
    assert cls == 0 and score == pytest.approx(0.9) and box == pytest.approx((80.0, 80.0, 120.0, 120.0))


def test_face_classes_are_refused(tmp_path: Path) -> None:
    path = yolo_model(tmp_path / "f.onnx", {0: "hand", 1: "face"}, np.zeros((6, 2), np.float32))
    with pytest.raises(ModelContractError, match="never detects faces"):
        load_lane_model(path)


def test_wrong_shapes_are_refused_with_every_problem(tmp_path: Path) -> None:
    path = yolo_model(tmp_path / "bad.onnx", {0: "TEA", 1: "COFFEE"}, np.zeros((9, 3), np.float32))
    with pytest.raises(ModelContractError) as err:
        load_lane_model(path)
    problems = err.value.problems
    assert any("must include 'hand'" in p for p in problems)
    assert any("[1, 6, N] or [1, N, 6]" in p for p in problems)


def test_picks_contract_mismatch_is_refused(tmp_path: Path) -> None:
    model = onnx.load(DEFAULT_MODEL)
    for node in model.graph.node:
        node.output[:] = ["hands" if o == "hand" else o for o in node.output]
    model.graph.output[0].name = "hands"
    onnx.save(model, tmp_path / "renamed.onnx")
    with pytest.raises(ModelContractError, match="outputs must be 'hand' and 'product'"):
        load_lane_model(tmp_path / "renamed.onnx")
    plain = onnx.load(DEFAULT_MODEL)
    del plain.metadata_props[:]
    onnx.save(plain, tmp_path / "plain.onnx")
    with pytest.raises(ModelContractError, match=r"neither smartshelf\.contract"):
        load_lane_model(tmp_path / "plain.onnx")


def test_unreadable_and_missing_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelContractError, match="onnxruntime cannot load it"):
        load_lane_model(tmp_path / "junk.onnx")
    with pytest.raises(ModelContractError, match="file not found"):
        load_lane_model(tmp_path / "none.onnx")


def test_training_is_reproducible_for_a_seed(tmp_path: Path) -> None:
    catalogue = ["85123A", "22423", "47566", "20725", "21212", "22469", "85099B", "22197"]
    train_file, val_file = render_files(catalogue, tmp_path / "crops", seed=3, scenarios=2)
    (train_set, products), (val_set, _) = load_crops(train_file), load_crops(val_file)
    assert products == catalogue
    a = train(train_set, val_set, products, tmp_path / "a", seed=3, epochs=1, source={}, log=False)
    b = train(train_set, val_set, products, tmp_path / "b", seed=3, epochs=1, source={}, log=False)
    assert a["sha256"] == b["sha256"]
    model = load_lane_model(tmp_path / "a" / "picks.onnx")
    assert list(model.products) == catalogue


def test_a_crops_file_that_is_not_one_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.npz").write_bytes(b"junk")
    with pytest.raises(CropFileError, match=r"x\.npz"):
        load_crops(tmp_path / "x.npz")
