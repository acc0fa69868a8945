"""Lane models behind one Protocol: our own picks contract, or a YOLO-style detector a retailer brings.

``load_lane_model(path)`` opens an ONNX file with onnxruntime, checks it against one of the two
contracts (models/picks/README.md) and refuses a mismatch with ``ModelContractError`` listing every
problem. Both kinds answer the same question for a set of lanes of one frame: how likely is a hand
there, empty or holding an item, and which product is it holding.
"""

from __future__ import annotations

import ast
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import onnxruntime as ort

from edge.errors import EdgeError
from edge.vision.lanes import CROP_SIZE, LaneLayout, to_tensor

log = logging.getLogger(__name__)

PICKS_CONTRACT = "smartshelf-picks/1"
#: Classes a retailer's model may not have: the gateway never detects faces or heads.
FORBIDDEN_CLASSES = frozenset({"face", "head", "person_face"})


class ModelContractError(EdgeError):
    """The ONNX model does not follow a contract the gateway can run; ``problems`` says why."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"model {path} does not match the picks or YOLO contract (models/picks/README.md):\n{lines}"
        )


@dataclass(frozen=True, slots=True)
class LaneScores:
    """Model answers for some lanes of one frame (rows follow ``lanes``)."""

    lanes: tuple[int, ...]
    hand: np.ndarray  # [n, 3]: P(no hand), P(empty hand), P(hand holding an item)
    product: np.ndarray  # [n, P]: P(product | holding), columns follow LaneModel.products


class LaneModel(Protocol):
    """What the camera stage needs from a model."""

    kind: str
    products: tuple[str, ...]

    def score(self, frame: np.ndarray, layout: LaneLayout, lanes: Sequence[int]) -> LaneScores: ...


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for unreadable files
        raise ModelContractError(str(path), [f"onnxruntime cannot load it: {exc}"]) from None


class PicksModel:
    """Our contract: lane crops in, hand state and product probabilities out."""

    kind = "picks"

    def __init__(
        self, path: Path, session: ort.InferenceSession, products: tuple[str, ...], max_lanes: int = 32
    ):
        self.path = path
        self.session = session
        self.products = products
        self._crops = np.zeros((max_lanes, CROP_SIZE, CROP_SIZE, 3), np.uint8)
        self._tensor = np.zeros((max_lanes, 3, CROP_SIZE, CROP_SIZE), np.float32)

    def score(self, frame: np.ndarray, layout: LaneLayout, lanes: Sequence[int]) -> LaneScores:
        n = len(lanes)
        if n > self._crops.shape[0]:
            raise ValueError(f"{n} lanes in one frame; this model runner holds {self._crops.shape[0]}")
        for row, lane in enumerate(lanes):
            layout.crop(frame, lane, self._crops[row])
        tensor = to_tensor(self._crops[:n], self._tensor)
        hand, product = self.session.run(["hand", "product"], {"crops": tensor})
        return LaneScores(tuple(lanes), hand, product)


class YoloModel:
    """A YOLO-style detector: whole frame in, boxes [1, 4+nc, N] (or [1, N, 4+nc]) out.

    Boxes are (cx, cy, w, h) in input pixels followed by one score per class; class names come from
    the model's ``names`` metadata. A ``hand`` box whose centre falls in a lane is a hand there; a
    product box (class name = product code) overlapping that hand means the hand holds it.
    """

    kind = "yolo"

    def __init__(
        self,
        path: Path,
        session: ort.InferenceSession,
        names: list[str],
        size: tuple[int, int],
        transposed: bool,
        threshold: float = 0.35,
    ):
        self.path = path
        self.session = session
        self.names = names
        self.hand_class = names.index("hand")
        self.product_classes = [i for i, n in enumerate(names) if n != "hand" and n.lower() != "person"]
        self.products = tuple(names[i] for i in self.product_classes)
        self.height, self.width = size
        self.transposed = transposed
        self.threshold = threshold
        self._input_name = session.get_inputs()[0].name
        self._canvas = np.zeros((self.height, self.width, 3), np.uint8)
        self._tensor = np.zeros((1, 3, self.height, self.width), np.float32)

    def detect(self, frame: np.ndarray) -> list[tuple[int, float, tuple[float, float, float, float]]]:
        """(class, score, (x0, y0, x1, y1) in frame pixels) after non-maximum suppression."""
        h, w = frame.shape[:2]
        scale = min(self.width / w, self.height / h)
        nw, nh = round(w * scale), round(h * scale)
        self._canvas[:] = 114
        cv2.resize(frame, (nw, nh), dst=self._canvas[:nh, :nw], interpolation=cv2.INTER_LINEAR)
        to_tensor(self._canvas[None], self._tensor)
        (raw,) = self.session.run(None, {self._input_name: self._tensor})
        return decode_yolo(raw[0].T if not self.transposed else raw[0], scale, self.threshold)

    def score(self, frame: np.ndarray, layout: LaneLayout, lanes: Sequence[int]) -> LaneScores:
        dets = self.detect(frame)
        hands = [d for d in dets if d[0] == self.hand_class]
        items = [d for d in dets if d[0] in self.product_classes]
        hand = np.zeros((len(lanes), 3), np.float32)
        product = np.full((len(lanes), len(self.products)), 1.0 / max(1, len(self.products)), np.float32)
        for row, lane in enumerate(lanes):
            x0, y0, x1, y1 = layout.boxes[lane]
            best = max(
                (
                    d
                    for d in hands
                    if x0 <= (d[2][0] + d[2][2]) / 2 < x1 and y0 <= (d[2][1] + d[2][3]) / 2 < y1
                ),
                key=lambda d: d[1],
                default=None,
            )
            if best is None:
                hand[row] = (1.0, 0.0, 0.0)
                continue
            held = max((d for d in items if _overlap(d[2], best[2]) > 0), key=lambda d: d[1], default=None)
            q = held[1] if held is not None else 0.0
            hand[row] = (1.0 - best[1], best[1] * (1.0 - q), best[1] * q)
            if held is not None:
                product[row] = (1.0 - q) / max(1, len(self.products) - 1)
                product[row, self.product_classes.index(held[0])] = q
        return LaneScores(tuple(lanes), hand, product)


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(0.0, w) * max(0.0, h)


def decode_yolo(
    rows: np.ndarray, scale: float, threshold: float, iou: float = 0.5
) -> list[tuple[int, float, tuple[float, float, float, float]]]:
    """Rows [N, 4+nc] of (cx, cy, w, h, class scores...) -> kept detections in original pixels."""
    scores = rows[:, 4:]
    cls = scores.argmax(axis=1)
    best = scores[np.arange(rows.shape[0]), cls]
    sane = np.isfinite(rows[:, :4]).all(axis=1) & (rows[:, 2] > 0) & (rows[:, 3] > 0)
    keep = np.where((best >= threshold) & sane)[0]
    if keep.size == 0:
        return []
    cx, cy, bw, bh = (rows[keep, i] / scale for i in range(4))
    boxes = np.stack([cx - bw / 2, cy - bh / 2, bw, bh], axis=1)
    picked = cv2.dnn.NMSBoxesBatched(boxes.tolist(), best[keep].tolist(), cls[keep].tolist(), threshold, iou)
    out = []
    for i in np.asarray(picked, dtype=np.int64).reshape(-1):
        x, y, w, h = boxes[i]
        out.append(
            (int(cls[keep][i]), float(best[keep][i]), (float(x), float(y), float(x + w), float(y + h)))
        )
    return out


def parse_names(raw: str) -> list[str]:
    """Class names from YOLO metadata: a JSON list, or the {index: name} literal Ultralytics writes.

    Raises ValueError for anything else (the text comes from a model file: outside data).
    """
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
            raise ValueError(f"not a list or mapping of names ({type(exc).__name__})") from None
    if isinstance(value, dict):
        try:
            keys = sorted(value, key=int)
        except (TypeError, ValueError):
            raise ValueError("mapping keys must be class indices") from None
        if [int(k) for k in keys] != list(range(len(keys))):
            raise ValueError("class indices must run 0..nc-1")
        return [str(value[k]) for k in keys]
    if isinstance(value, list):
        return [str(v) for v in value]
    raise ValueError("names must be a list or an {index: name} mapping")


def load_lane_model(path: Path | str, max_lanes: int = 32) -> PicksModel | YoloModel:
    """Open ``path`` and check it against the picks contract, then the YOLO one; refuse anything else."""
    path = Path(path)
    if not path.is_file():
        raise ModelContractError(str(path), ["file not found"])
    session = _session(path)
    meta = session.get_modelmeta().custom_metadata_map
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if meta.get("smartshelf.contract") == PICKS_CONTRACT:
        return _check_picks(path, session, meta, inputs, outputs, max_lanes)
    if "names" in meta:
        return _check_yolo(path, session, meta, inputs, outputs)
    raise ModelContractError(
        str(path),
        [
            f"metadata has neither smartshelf.contract={PICKS_CONTRACT!r} nor YOLO 'names' "
            f"(found keys: {sorted(meta) or 'none'})"
        ],
    )


def _check_picks(
    path: Path, session: ort.InferenceSession, meta: dict[str, str], inputs: Any, outputs: Any, max_lanes: int
) -> PicksModel:
    problems = []
    try:
        products = tuple(json.loads(meta.get("smartshelf.products", "")))
    except json.JSONDecodeError:
        products = ()
        problems.append("metadata smartshelf.products must be a JSON list of product codes")
    if len(inputs) != 1 or inputs[0].name != "crops":
        problems.append(f"needs one input named 'crops', has {[i.name for i in inputs]}")
    elif inputs[0].type != "tensor(float)" or list(inputs[0].shape[1:]) != [3, CROP_SIZE, CROP_SIZE]:
        problems.append(
            f"input 'crops' must be float [N, 3, {CROP_SIZE}, {CROP_SIZE}], is {inputs[0].type} {inputs[0].shape}"
        )
    shapes = {o.name: o.shape for o in outputs}
    if set(shapes) != {"hand", "product"}:
        problems.append(f"outputs must be 'hand' and 'product', are {sorted(shapes)}")
    else:
        if shapes["hand"][-1] != 3:
            problems.append(f"output 'hand' must be [N, 3], is {shapes['hand']}")
        if products and shapes["product"][-1] != len(products):
            problems.append(
                f"output 'product' has {shapes['product'][-1]} columns for {len(products)} products"
            )
    if problems:
        raise ModelContractError(str(path), problems)
    return PicksModel(path, session, products, max_lanes)


def _check_yolo(
    path: Path, session: ort.InferenceSession, meta: dict[str, str], inputs: Any, outputs: Any
) -> YoloModel:
    problems = []
    try:
        names = parse_names(meta["names"])
    except ValueError as exc:
        raise ModelContractError(str(path), [f"metadata 'names' is unreadable: {exc}"]) from None
    if "hand" not in names:
        problems.append("YOLO class names must include 'hand' (the other classes are product codes)")
    forbidden = sorted(FORBIDDEN_CLASSES.intersection(n.lower() for n in names))
    if forbidden:
        problems.append(f"classes {forbidden} are not allowed: the gateway never detects faces or heads")
    size = (0, 0)
    if len(inputs) != 1:
        problems.append(f"needs exactly one image input, has {len(inputs)}")
    else:
        shape = inputs[0].shape
        if (
            inputs[0].type != "tensor(float)"
            or len(shape) != 4
            or shape[1] != 3
            or not all(isinstance(d, int) for d in shape[2:])
        ):
            problems.append(
                f"input must be float [1, 3, H, W] with fixed H and W, is {inputs[0].type} {shape}"
            )
        else:
            size = (int(shape[2]), int(shape[3]))
    transposed = False
    if len(outputs) != 1 or len(outputs[0].shape) != 3:
        problems.append(f"needs one output [1, 4+nc, N], has {[o.shape for o in outputs]}")
    else:
        shape = outputs[0].shape
        expected = 4 + len(names)
        if shape[1] == expected:
            transposed = False
        elif shape[2] == expected:
            transposed = True
        else:
            problems.append(
                f"output must be [1, {expected}, N] or [1, N, {expected}] for {len(names)} classes, is {shape}"
            )
    if problems:
        raise ModelContractError(str(path), problems)
    unused = [n for n in names if n.lower() == "person"]
    if unused:
        log.warning("model %s has a 'person' class; its detections are ignored", path)
    return YoloModel(path, session, names, size, transposed)
