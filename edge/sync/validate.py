"""Validation of a release in its slot: ONNX contract check and golden inputs -> expected outputs.

Every release carries ``golden.json``::

    {"onnx_file": "offer_model.onnx", "atol": 1e-4,
     "cases": [{"inputs": {"features": [[0.1, 0.2, ...]]}, "outputs": {"scores": [[...]]}}]}

The contract check compares the model's declared inputs and outputs (names, element types, ranks and
fixed dimensions) with the golden case; then every case runs through onnxruntime and each listed
output must match within ``atol``. Failures raise :class:`ReleaseRejected` ('contract' or 'golden').
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from pydantic import Field, ValidationError

from edge.settings_base import Section
from edge.sync.release_meta import ReleaseRejected

GOLDEN_FILE = "golden.json"
_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
}


class GoldenCase(Section):
    inputs: dict[str, Any] = Field(description="Input name -> nested list.")
    outputs: dict[str, Any] = Field(description="Output name -> expected nested list.")


class Golden(Section):
    onnx_file: str = Field(description="ONNX file of the release the cases run through.")
    atol: float = Field(1e-4, gt=0, description="Absolute tolerance on each output value.")
    cases: list[GoldenCase] = Field(min_length=1, description="Inputs and expected outputs.")


@dataclass
class OnnxModel:
    """A plain ONNX model of a release (the default loader when no richer model class is given)."""

    directory: Path
    session: ort.InferenceSession

    @classmethod
    def load(cls, directory: Path, onnx_file: str | None = None) -> OnnxModel:
        name = onnx_file or read_golden(directory, "?", None).onnx_file
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        session = ort.InferenceSession(str(directory / name), options, providers=["CPUExecutionProvider"])
        return cls(directory, session)

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        names = [o.name for o in self.session.get_outputs()]
        return dict(zip(names, self.session.run(names, inputs), strict=True))


def read_golden(directory: Path, model: str, version: int | None) -> Golden:
    path = directory / GOLDEN_FILE
    try:
        return Golden.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise ReleaseRejected(model, version, "contract", f"release has no {GOLDEN_FILE}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ReleaseRejected(model, version, "contract", f"{GOLDEN_FILE}: {where}: {first['msg']}") from None


def validate_slot(directory: Path, model: str, version: int) -> Golden:
    """Contract check and golden cases of the release in ``directory``; raises ReleaseRejected."""
    golden = read_golden(directory, model, version)
    try:
        onnx = OnnxModel.load(directory, golden.onnx_file)
    except Exception as exc:
        raise ReleaseRejected(
            model, version, "load", f"{golden.onnx_file}: {type(exc).__name__}: {exc}"
        ) from None
    inputs = {i.name: i for i in onnx.session.get_inputs()}
    outputs = {o.name: o for o in onnx.session.get_outputs()}
    for n, case in enumerate(golden.cases):
        if set(case.inputs) != set(inputs):
            raise ReleaseRejected(
                model,
                version,
                "contract",
                f"case {n}: inputs {sorted(case.inputs)} but model takes {sorted(inputs)}",
            )
        unknown = set(case.outputs) - set(outputs)
        if unknown:
            raise ReleaseRejected(
                model, version, "contract", f"case {n}: model has no output {sorted(unknown)}"
            )
        feed = {}
        for name, arg in inputs.items():
            dtype = _DTYPES.get(arg.type)
            if dtype is None:
                raise ReleaseRejected(
                    model, version, "contract", f"input {name}: unsupported type {arg.type}"
                )
            value = np.asarray(case.inputs[name], dtype=dtype)
            if value.ndim != len(arg.shape) or any(
                isinstance(d, int) and d != s for d, s in zip(arg.shape, value.shape, strict=True)
            ):
                raise ReleaseRejected(
                    model, version, "contract", f"input {name}: shape {value.shape} does not fit {arg.shape}"
                )
            feed[name] = value
        try:
            got = onnx.run(feed)
        except Exception as exc:
            raise ReleaseRejected(model, version, "golden", f"case {n} failed to run: {exc}") from None
        for name, expected in case.outputs.items():
            want = np.asarray(expected, dtype=np.float64)
            have = np.asarray(got[name], dtype=np.float64)
            if want.shape != have.shape:
                raise ReleaseRejected(
                    model,
                    version,
                    "golden",
                    f"case {n} output {name}: shape {have.shape}, expected {want.shape}",
                )
            worst = float(np.max(np.abs(want - have))) if want.size else 0.0
            if not worst <= golden.atol:
                raise ReleaseRejected(
                    model,
                    version,
                    "golden",
                    f"case {n} output {name}: off by {worst:.3g} (atol {golden.atol:g})",
                )
    return golden


def write_golden(
    directory: Path, onnx_file: str, inputs: list[dict[str, np.ndarray]], atol: float = 1e-4
) -> Path:
    """Record golden cases by running ``inputs`` through the model (for ``shelf-models publish``)."""
    onnx = OnnxModel.load(directory, onnx_file)
    cases = [
        {
            "inputs": {k: v.tolist() for k, v in feed.items()},
            "outputs": {k: v.tolist() for k, v in onnx.run(feed).items()},
        }
        for feed in inputs
    ]
    path = directory / GOLDEN_FILE
    path.write_text(json.dumps({"onnx_file": onnx_file, "atol": atol, "cases": cases}, indent=1))
    return path
