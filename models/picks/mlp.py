"""The default picks model: a small two-headed MLP on 2x-pooled lane crops, trained with numpy alone.

Graph (ONNX, contract "smartshelf-picks/1", see models/picks/README.md):
``crops [N,3,64,64] -> AveragePool 2x2 -> Flatten -> (x - 0.5) * 2 -> Gemm 3072x256 -> Relu ->
Gemm 256x128 -> Relu -> {Gemm 128x3 -> Softmax = hand, Gemm 128xP -> Softmax = product}``.
About 0.8 M parameters (3.3 MB float32); well under a millisecond per crop on one gateway core.
Training is deterministic for a seed: numpy's PCG64 for initialisation and batches, Adam updates.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edge.vision.lanes import CROP_SIZE

CONTRACT = "smartshelf-picks/1"
HIDDEN = (256, 128)


def pool_features(crops_bgr: np.ndarray) -> np.ndarray:
    """Exactly what the graph computes before the first Gemm: [N, H, W, 3] BGR uint8 -> [N, 3072]."""
    x = crops_bgr[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255.0)
    n, c, h, w = x.shape
    pooled = x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))
    features: np.ndarray = ((pooled.reshape(n, -1) - np.float32(0.5)) * np.float32(2.0)).astype(np.float32)
    return features


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


@dataclass(slots=True)
class Mlp:
    n_products: int
    seed: int
    params: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        sizes = [3 * (CROP_SIZE // 2) ** 2, *HIDDEN]
        for i, (a, b) in enumerate(itertools.pairwise(sizes)):
            self.params[f"w{i}"] = (rng.standard_normal((a, b)) * np.sqrt(2.0 / a)).astype(np.float32)
            self.params[f"b{i}"] = np.zeros(b, np.float32)
        last = sizes[-1]
        self.params["wh"] = (rng.standard_normal((last, 3)) * np.sqrt(1.0 / last)).astype(np.float32)
        self.params["bh"] = np.zeros(3, np.float32)
        self.params["wp"] = (rng.standard_normal((last, self.n_products)) * np.sqrt(1.0 / last)).astype(
            np.float32
        )
        self.params["bp"] = np.zeros(self.n_products, np.float32)

    @classmethod
    def from_onnx(cls, path: Path, seed: int) -> tuple[Mlp, list[str]]:
        """The weights and catalogue of a picks model this class exported (to fine-tune it)."""
        model = onnx.load(str(path))
        meta = {p.key: p.value for p in model.metadata_props}
        if meta.get("smartshelf.contract") != CONTRACT:
            raise ValueError(f"{path} is not a {CONTRACT} model")
        products = [str(p) for p in json.loads(meta["smartshelf.products"])]
        weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        mlp = cls(len(products), seed)
        missing = sorted(set(mlp.params) - set(weights))
        wrong = sorted(k for k in mlp.params if k in weights and weights[k].shape != mlp.params[k].shape)
        if missing or wrong:
            raise ValueError(f"{path} is not this MLP: missing {missing}, other shapes {wrong}")
        mlp.params = {k: weights[k].astype(np.float32).copy() for k in mlp.params}
        return mlp, products

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        acts = [x]
        h = x
        for i in range(len(HIDDEN)):
            h = np.maximum(h @ self.params[f"w{i}"] + self.params[f"b{i}"], 0.0)
            acts.append(h)
        return (
            _softmax(h @ self.params["wh"] + self.params["bh"]),
            _softmax(h @ self.params["wp"] + self.params["bp"]),
            acts,
        )

    def grads(
        self, x: np.ndarray, hand: np.ndarray, product: np.ndarray
    ) -> tuple[float, dict[str, np.ndarray]]:
        ph, pp, acts = self.forward(x)
        n = x.shape[0]
        holding = product >= 0
        m = max(1, int(holding.sum()))
        loss = -float(np.log(ph[np.arange(n), hand] + 1e-9).mean())
        dh = ph.copy()
        dh[np.arange(n), hand] -= 1.0
        dh /= n
        dp = pp.copy()
        idx = np.where(holding)[0]
        dp[idx, product[idx]] -= 1.0
        dp[~holding] = 0.0
        dp /= m
        if idx.size:
            loss -= float(np.log(pp[idx, product[idx]] + 1e-9).mean())
        top = acts[-1]
        g: dict[str, np.ndarray] = {
            "wh": top.T @ dh,
            "bh": dh.sum(0),
            "wp": top.T @ dp,
            "bp": dp.sum(0),
        }
        back = dh @ self.params["wh"].T + dp @ self.params["wp"].T
        for i in reversed(range(len(HIDDEN))):
            back = back * (acts[i + 1] > 0)
            g[f"w{i}"] = acts[i].T @ back
            g[f"b{i}"] = back.sum(0)
            if i:
                back = back @ self.params[f"w{i}"].T
        return loss, g

    def fit(
        self,
        x: np.ndarray,
        hand: np.ndarray,
        product: np.ndarray,
        epochs: int,
        batch: int = 128,
        lr: float = 1e-3,
        log: bool = False,
    ) -> list[float]:
        rng = np.random.default_rng(self.seed + 1)
        m = {k: np.zeros_like(v) for k, v in self.params.items()}
        v = {k: np.zeros_like(p) for k, p in self.params.items()}
        step = 0
        losses = []
        for epoch in range(epochs):
            order = rng.permutation(x.shape[0])
            total = 0.0
            rate = lr * (0.5 * (1 + np.cos(np.pi * epoch / epochs)))  # cosine decay
            for start in range(0, len(order), batch):
                sel = order[start : start + batch]
                gain = rng.uniform(0.8, 1.2, (sel.size, 1)).astype(np.float32)  # lighting jitter
                xb = (x[sel] + 1.0) * gain - 1.0
                loss, g = self.grads(xb, hand[sel], product[sel])
                total += loss * sel.size
                step += 1
                for k, grad in g.items():
                    grad = grad + 1e-5 * self.params[k]
                    m[k] = 0.9 * m[k] + 0.1 * grad
                    v[k] = 0.999 * v[k] + 0.001 * grad * grad
                    mh = m[k] / (1 - 0.9**step)
                    vh = v[k] / (1 - 0.999**step)
                    self.params[k] -= (rate * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)
            losses.append(total / x.shape[0])
            if log:
                print(f"epoch {epoch + 1}/{epochs}: loss {losses[-1]:.4f}", flush=True)
        return losses

    def to_onnx(self, products: list[str], recipe: dict[str, object]) -> onnx.ModelProto:
        p = self.params
        inits = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in p.items()]
        inits += [
            numpy_helper.from_array(np.array(0.5, np.float32), "half"),
            numpy_helper.from_array(np.array(2.0, np.float32), "two"),
        ]
        nodes = [
            helper.make_node("AveragePool", ["crops"], ["pooled"], kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
            helper.make_node("Sub", ["flat", "half"], ["centred"]),
            helper.make_node("Mul", ["centred", "two"], ["h_in"]),
        ]
        prev = "h_in"
        for i in range(len(HIDDEN)):
            nodes.append(helper.make_node("Gemm", [prev, f"w{i}", f"b{i}"], [f"z{i}"]))
            nodes.append(helper.make_node("Relu", [f"z{i}"], [f"h{i}"]))
            prev = f"h{i}"
        nodes += [
            helper.make_node("Gemm", [prev, "wh", "bh"], ["hand_logits"]),
            helper.make_node("Softmax", ["hand_logits"], ["hand"], axis=1),
            helper.make_node("Gemm", [prev, "wp", "bp"], ["product_logits"]),
            helper.make_node("Softmax", ["product_logits"], ["product"], axis=1),
        ]
        graph = helper.make_graph(
            nodes,
            "picks",
            [helper.make_tensor_value_info("crops", TensorProto.FLOAT, ["N", 3, CROP_SIZE, CROP_SIZE])],
            [
                helper.make_tensor_value_info("hand", TensorProto.FLOAT, ["N", 3]),
                helper.make_tensor_value_info("product", TensorProto.FLOAT, ["N", len(products)]),
            ],
            inits,
        )
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="shelf-models"
        )
        model.ir_version = 8
        helper.set_model_props(
            model,
            {
                "smartshelf.contract": CONTRACT,
                "smartshelf.products": json.dumps(products),
                "smartshelf.recipe": json.dumps(recipe, sort_keys=True),
            },
        )
        onnx.checker.check_model(model)
        return model
