"""The ONNX graph of the offer model, built directly with ``onnx.helper`` (float32, opset 18).

Contract (also checked by ``edge.offers.model.OfferModel.load``):

inputs
  ``basket``           int64 [B]    item indices of the current basket, padded with N (>= 1 entry)
  ``profile_items``    int64 [P]    item indices of the shopper profile, padded with N (>= 1 entry)
  ``profile_weights``  float32 [P]  decayed repurchase shares of those items (0 for padding)
  ``profile_baskets``  float32 [1]  number of past baskets behind the profile (0: unknown shopper)
  ``allowed``          int64 [W]    item indices that may be returned (W >= 1): the products this
                                    store can offer, or all N
  ``k``                int64 [1]    how many items to return (<= W)
outputs
  ``scores``    float32 [k]  estimated probability that the item joins the basket, best first;
                             allowed items already in the basket come last, at -1e9
  ``items``     int64 [k]    item indices, all from ``allowed``
  ``together``  float32 [k]  highest share of baskets holding a current-basket item that also held
                             this item, counted only where that basket item is well supported
Metadata (``metadata_props``): ``smartshelf.format``, ``smartshelf.n_items``,
``smartshelf.items_sha256``, ``smartshelf.params`` (JSON), ``smartshelf.model_version``.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from models.offers.method import HISTORY_ITEMS, Params, Statistics

OPSET = 18
FORMAT = "smartshelf-offer-model/2"
MASKED = -1.0e9


def items_sha256(items: list[str]) -> str:
    return hashlib.sha256("\n".join(items).encode("utf-8")).hexdigest()


def _const(name: str, value: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(value, name)


def build_graph(stats: Statistics, params: Params, model_version: str) -> onnx.ModelProto:
    n, k = stats.size, stats.nbr_idx.shape[1]
    item_baskets = stats.item_baskets.astype(np.float64)
    nbr_w = np.zeros((n + 1, k), dtype=np.float32)
    nbr_w[:n] = stats.nbr_count / (item_baskets[:, None] + params.damping)
    proof = np.zeros((n + 1, k), dtype=np.float32)
    supported = item_baskets >= params.min_support
    proof[:n][supported] = (stats.nbr_count[supported] / item_baskets[supported, None]).astype(np.float32)
    nbr_idx = np.full((n + 1, k), n, dtype=np.int64)
    nbr_idx[:n] = stats.nbr_idx
    pop = np.zeros(n + 1, dtype=np.float32)
    pop[:n] = stats.popularity

    inits = [
        _const("nbr_idx", nbr_idx),
        _const("nbr_w", nbr_w),
        _const("proof_w", proof),
        _const("popularity", pop),
        _const("zeros", np.zeros(n + 1, dtype=np.float32)),
        _const("pad", np.array([n], dtype=np.int64)),
        _const("one", np.array([1.0], dtype=np.float32)),
        _const("flat", np.array([-1], dtype=np.int64)),
        _const("masked", np.array([MASKED], dtype=np.float32)),
        _const("basket_weight", np.array([params.basket_weight], dtype=np.float32)),
        _const("basket_shrink", np.array([params.basket_shrink], dtype=np.float32)),
        _const("profile_shrink", np.array([params.profile_shrink], dtype=np.float32)),
        _const("history_weight", np.array([params.history_weight], dtype=np.float32)),
        _const("one_minus_history", np.array([1.0 - params.history_weight], dtype=np.float32)),
        _const("axis1", np.array([1], dtype=np.int64)),
        _const("tiny", np.array([1e-9], dtype=np.float32)),
        _const("zero_i", np.array([0], dtype=np.int64)),
        _const("history_items", np.array([HISTORY_ITEMS], dtype=np.int64)),
    ]
    node = helper.make_node
    # The mixture is rewritten as  score = a * cooc_sum + b * personal + c * popularity
    # with scalar a = lam / max(B, 1), b = (1 - lam) * conf, c = (1 - lam) * (1 - conf), and the
    # sparse parts scattered straight into the dense base (few nodes: per-node cost dominates).
    nodes = [
        # B = number of real (non-padding) basket items; lam = basket_weight * B / (B + basket_shrink)
        # and the co-purchase coefficient a = lam / B = basket_weight / (B + basket_shrink) (for an
        # empty basket only the padding row is scattered, into the padding slot nobody reads)
        node("Less", ["basket", "pad"], ["is_item"]),
        node("Cast", ["is_item"], ["is_item_f"], to=TensorProto.FLOAT),
        node("ReduceSum", ["is_item_f"], ["b_count"], keepdims=1),
        node("Add", ["b_count", "basket_shrink"], ["b_denom"]),
        node("Div", ["basket_weight", "b_denom"], ["coef_a"]),
        node("Mul", ["coef_a", "b_count"], ["lam"]),
        node("Sub", ["one", "lam"], ["one_minus_lam"]),
        # conf = n / (n + profile_shrink): the profile is shrunk towards popularity
        node("Add", ["profile_baskets", "profile_shrink"], ["p_denom"]),
        node("Div", ["profile_baskets", "p_denom"], ["conf"]),
        node("Mul", ["one_minus_lam", "conf"], ["coef_b"]),
        node("Sub", ["one_minus_lam", "coef_b"], ["coef_c"]),
        # dense base: the popularity part
        node("Mul", ["popularity", "coef_c"], ["base"]),
        # co-purchase with the basket: a * sum over basket items of damped c(j,i)/c(j)
        node("Gather", ["nbr_idx", "basket"], ["rows_idx"], axis=0),
        node("Gather", ["nbr_w", "basket"], ["rows_w"], axis=0),
        node("Gather", ["proof_w", "basket"], ["rows_p"], axis=0),
        node("Reshape", ["rows_idx", "flat"], ["flat_idx"]),
        node("Reshape", ["rows_w", "flat"], ["flat_w"]),
        node("Reshape", ["rows_p", "flat"], ["flat_p"]),
        node("Mul", ["flat_w", "coef_a"], ["flat_wa"]),
        node("ScatterElements", ["base", "flat_idx", "flat_wa"], ["with_basket"], axis=0, reduction="add"),
        node("ScatterElements", ["zeros", "flat_idx", "flat_p"], ["together_all"], axis=0, reduction="max"),
    ]
    if params.history_weight > 0:
        nodes += [
            # personal = (1 - h) * repurchase + h * co-purchase over the HISTORY_ITEMS strongest
            # past products: sum_j w_j * nbr_w[j, i] / sum_j w_j
            node("Mul", ["profile_weights", "coef_b"], ["pw_b"]),
            node("Mul", ["pw_b", "one_minus_history"], ["pw_own"]),
            node(
                "ScatterElements",
                ["with_basket", "profile_items", "pw_own"],
                ["own"],
                axis=0,
                reduction="add",
            ),
            node("Slice", ["profile_items", "zero_i", "history_items"], ["h_items"]),
            node("Slice", ["profile_weights", "zero_i", "history_items"], ["h_weights"]),
            node("ReduceSum", ["h_weights"], ["h_total"], keepdims=1),
            node("Add", ["h_total", "tiny"], ["h_denom"]),
            node("Div", ["coef_b", "h_denom"], ["h_scale0"]),
            node("Mul", ["h_scale0", "history_weight"], ["h_scale"]),
            node("Mul", ["h_weights", "h_scale"], ["h_w"]),
            node("Gather", ["nbr_idx", "h_items"], ["h_rows_idx"], axis=0),
            node("Gather", ["nbr_w", "h_items"], ["h_rows_w"], axis=0),
            node("Unsqueeze", ["h_w", "axis1"], ["h_col"]),
            node("Mul", ["h_rows_w", "h_col"], ["h_rows_ww"]),
            node("Reshape", ["h_rows_idx", "flat"], ["h_flat_idx"]),
            node("Reshape", ["h_rows_ww", "flat"], ["h_flat_w"]),
            node("ScatterElements", ["own", "h_flat_idx", "h_flat_w"], ["score"], axis=0, reduction="add"),
        ]
    else:
        nodes += [
            node("Mul", ["profile_weights", "coef_b"], ["pw_b"]),
            node(
                "ScatterElements",
                ["with_basket", "profile_items", "pw_b"],
                ["score"],
                axis=0,
                reduction="add",
            ),
        ]
    nodes += [
        # nothing already in the basket: its items get MASKED (the padding slot gets 0, unread)
        node("Mul", ["is_item_f", "masked"], ["mask_values"]),
        node("ScatterElements", ["score", "basket", "mask_values"], ["masked_score"], axis=0),
        # only the allowed items compete: best k of them
        node("Gather", ["masked_score", "allowed"], ["allowed_score"], axis=0),
        node("TopK", ["allowed_score", "k"], ["scores", "positions"], axis=0, largest=1, sorted=1),
        node("Gather", ["allowed", "positions"], ["items"], axis=0),
        node("Gather", ["together_all", "items"], ["together"], axis=0),
    ]
    used = {name for n in nodes for name in n.input}
    inits = [i for i in inits if i.name in used]
    graph = helper.make_graph(
        nodes,
        "offer_model",
        [
            helper.make_tensor_value_info("basket", TensorProto.INT64, ["B"]),
            helper.make_tensor_value_info("profile_items", TensorProto.INT64, ["P"]),
            helper.make_tensor_value_info("profile_weights", TensorProto.FLOAT, ["P"]),
            helper.make_tensor_value_info("profile_baskets", TensorProto.FLOAT, [1]),
            helper.make_tensor_value_info("allowed", TensorProto.INT64, ["W"]),
            helper.make_tensor_value_info("k", TensorProto.INT64, [1]),
        ],
        [
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["K"]),
            helper.make_tensor_value_info("items", TensorProto.INT64, ["K"]),
            helper.make_tensor_value_info("together", TensorProto.FLOAT, ["K"]),
        ],
        initializer=inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="smartshelf-models"
    )
    model.ir_version = 9
    meta = {
        "smartshelf.format": FORMAT,
        "smartshelf.n_items": str(n),
        "smartshelf.items_sha256": items_sha256(stats.items),
        "smartshelf.params": json.dumps(params.as_dict(), sort_keys=True),
        "smartshelf.model_version": model_version,
    }
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    return model
