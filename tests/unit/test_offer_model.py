"""The offer model: build from real Online Retail transactions, load with checks, rank, hot swap."""

from __future__ import annotations

import csv
import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edge.offers import ModelLoadError, OfferModel, Profile
from edge.offers.holder import ModelHolder
from models.offers import build
from models.offers.build import build_from_baskets
from models.offers.method import Params, Scorer, fit
from models.offers.transactions import TX_HEADER, online_retail_rows, read_transactions

ONLINE_RETAIL = Path(__file__).resolve().parents[3] / "shared" / "data" / "online_retail.csv.gz"


@pytest.fixture(scope="module")
def tx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not ONLINE_RETAIL.exists():
        pytest.skip("../shared/data/online_retail.csv.gz not present")
    path = tmp_path_factory.mktemp("tx") / "tx.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(TX_HEADER)
        writer.writerows(itertools.islice(online_retail_rows(ONLINE_RETAIL), 25000))
    return path


@pytest.fixture(scope="module")
def model_dir(tx: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model")
    build(tx, out, max_baskets=800, tune=False)
    return out


@pytest.fixture()
def copy_dir(model_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(model_dir, target)
    return target


def test_manifest_describes_model(model_dir: Path) -> None:
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert manifest["opset"] == 18
    assert set(manifest["files"]) == {"offer_model.onnx"}
    assert len(manifest["files"]["offer_model.onnx"]["sha256"]) == 64
    assert manifest["training"]["baskets"] == 800
    assert manifest["training"]["products_in_model"] == len(manifest["items"])
    assert manifest["model_version"] and manifest["created"].endswith("Z")


def test_rank_excludes_basket_and_returns_k(model_dir: Path) -> None:
    m = OfferModel.load(model_dir)
    basket = list(m.items[:3])
    ranked = m.rank(basket=basket, profile=None, k=10)
    assert len(ranked) == 10 and len(set(ranked)) == 10
    assert not set(ranked) & set(basket)
    assert ranked == m.rank(basket=basket, profile=None, k=10)
    assert m.rank(basket=[], profile=None, k=5) == list(m.items[:5])  # popularity fallback


def test_unknown_products_and_empty_inputs(model_dir: Path) -> None:
    m = OfferModel.load(model_dir)
    assert m.rank(basket=["no-such-product"], profile=None, k=3) == list(m.items[:3])
    assert m.rank(basket=[], profile=m.profile([]), k=3) == list(m.items[:3])
    assert m.rank(basket=[], profile=None, k=0) == []
    assert len(m.rank(basket=[], profile=None, k=10 * len(m.items))) == len(m.items)


def test_profile_drives_repurchase(model_dir: Path) -> None:
    m = OfferModel.load(model_dir)
    rare = m.items[-1]
    profile = m.profile([[rare], [rare, m.items[-2]], [rare]])
    assert profile.items[0] == rare and profile.n_baskets == 3
    assert m.rank(basket=[], profile=profile, k=1) == [rare]
    assert Profile.from_dict(json.loads(json.dumps(profile.to_dict()))) == profile


@pytest.mark.parametrize("history_weight", [0.0, 0.3])
def test_onnx_graph_matches_numpy_method(tx: Path, tmp_path: Path, history_weight: float) -> None:
    baskets = read_transactions(tx, max_baskets=800)
    params = Params(history_weight=history_weight, decay=0.7, basket_weight=0.6)
    build_from_baskets(baskets, tmp_path, params=params, tune=False)
    m = OfferModel.load(tmp_path)
    assert m.params == params.as_dict()
    scorer = Scorer(fit(baskets, params), params)
    history = [list(m.items[10:14]), list(m.items[40:42])]
    for basket in ([], list(m.items[5:7]), [m.items[100]]):
        for profile in (None, m.profile(history)):
            onnx_scores = [c.score for c in m.candidates(basket=basket, profile=profile, k=20)]
            reference = np.sort(scorer.scores(basket, profile))[::-1][:20]
            np.testing.assert_allclose(onnx_scores, reference, rtol=1e-4, atol=1e-7)


def test_social_proof_share_is_a_share(model_dir: Path) -> None:
    m = OfferModel.load(model_dir)
    candidates = m.candidates(basket=[m.items[0]], profile=None, k=10)
    assert any(c.together > 0 for c in candidates)
    assert all(0.0 <= c.together <= 1.0 for c in candidates)


def test_truncated_model_is_refused(copy_dir: Path) -> None:
    onnx_file = copy_dir / "offer_model.onnx"
    onnx_file.write_bytes(onnx_file.read_bytes()[:-1000])
    with pytest.raises(ModelLoadError) as err:
        OfferModel.load(copy_dir)
    assert err.value.kind == "truncated" and err.value.file == "offer_model.onnx"


def test_corrupt_model_is_refused(copy_dir: Path) -> None:
    onnx_file = copy_dir / "offer_model.onnx"
    data = bytearray(onnx_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx_file.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError) as err:
        OfferModel.load(copy_dir)
    assert err.value.kind == "sha256"


def test_mismatched_item_table_is_refused(copy_dir: Path) -> None:
    manifest = json.loads((copy_dir / "manifest.json").read_text())
    manifest["items"][0], manifest["items"][1] = manifest["items"][1], manifest["items"][0]
    (copy_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError) as err:
        OfferModel.load(copy_dir)
    assert err.value.kind == "item-table"


def test_model_with_valid_hash_but_garbage_is_refused(copy_dir: Path) -> None:
    from edge.offers.model import sha256_file

    (copy_dir / "offer_model.onnx").write_bytes(b"not an onnx model at all")
    manifest = json.loads((copy_dir / "manifest.json").read_text())
    manifest["files"]["offer_model.onnx"] = {
        "sha256": sha256_file(copy_dir / "offer_model.onnx"),
        "bytes": 24,
    }
    (copy_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError) as err:
        OfferModel.load(copy_dir)
    assert err.value.kind == "corrupt"


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"format": "other"}'])
def test_bad_manifest_is_refused(copy_dir: Path, content: bytes) -> None:
    (copy_dir / "manifest.json").write_bytes(content)
    with pytest.raises(ModelLoadError):
        OfferModel.load(copy_dir)


def test_model_of_an_older_format_is_refused_by_name(copy_dir: Path) -> None:
    manifest = json.loads((copy_dir / "manifest.json").read_text())
    manifest["format"] = "smartshelf-offer-model/1"
    (copy_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError) as err:
        OfferModel.load(copy_dir)
    assert err.value.kind == "format" and "smartshelf-offer-model/2" in str(err.value)


def test_holder_keeps_serving_previous_model(model_dir: Path, copy_dir: Path) -> None:
    holder = ModelHolder(OfferModel.load(model_dir))
    before = holder.current
    assert before is not None
    onnx_file = copy_dir / "offer_model.onnx"
    onnx_file.write_bytes(onnx_file.read_bytes()[:100])
    with pytest.raises(ModelLoadError):
        holder.load_and_swap(copy_dir)
    assert holder.current is before
    assert holder.current.rank(basket=[], profile=None, k=3) == list(before.items[:3])
    fresh = OfferModel.load(model_dir)
    assert holder.swap(fresh) is before and holder.current is fresh


def test_within_restricts_to_stocked_products(model_dir: Path) -> None:
    m = OfferModel.load(model_dir)
    stocked = frozenset([m.items[-1], m.items[-5], m.items[200], m.items[0], "not-modelled"])
    got = m.candidates(basket=[m.items[0]], profile=None, k=10, within=stocked)
    assert {c.product_id for c in got} == {m.items[-1], m.items[-5], m.items[200]}
    assert [c.score for c in got] == sorted((c.score for c in got), reverse=True)
    assert m.candidates(basket=[], profile=None, k=2, within=stocked)[0].product_id == m.items[0]


def test_cooccurrence_chunking_and_compaction_agree(tx: Path) -> None:
    from models.offers.method import _encode, cooccurrence, vocabulary

    baskets = read_transactions(tx, max_baskets=300)
    items, _ = vocabulary(baskets, 2)
    encoded = _encode(baskets, {item: i for i, item in enumerate(items)}, 100)
    whole = cooccurrence(encoded, len(items), 20)
    pieces = cooccurrence(encoded, len(items), 20, chunk=7, compact_at=50)
    for a, b in zip(whole, pieces, strict=True):
        np.testing.assert_array_equal(a, b)
    assert whole[2].max() > 0 and whole[1].max() > 0
