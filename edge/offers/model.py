"""``OfferModel``: the offer model on the gateway (onnxruntime), loaded only when it verifies.

    m = OfferModel.load(model_dir)              # checks manifest, sha256 of every file, item table
    profile = m.profile(history)                # history: past baskets, oldest first (backend side)
    m.rank(basket=["22423", ...], profile=profile, k=10) -> ["85123A", ...]
    m.candidates(basket=..., profile=..., k=100) -> [Candidate(product_id, score, together), ...]

A model directory holds ``offer_model.onnx`` and ``manifest.json`` (see models/README.md). Anything
that does not verify raises :class:`ModelLoadError` with the directory, file and reason; nothing is
half-loaded, so a holder keeps serving its previous model (``edge.offers.holder.ModelHolder``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from edge.errors import EdgeError
from edge.offers.candidates import CandidateList
from edge.offers.profile import Profile, compute_profile

MODEL_FILE = "offer_model.onnx"
MANIFEST_FILE = "manifest.json"
FORMAT = "smartshelf-offer-model/2"
INPUTS = ("basket", "profile_items", "profile_weights", "profile_baskets", "allowed", "k")
OUTPUTS = ("scores", "items", "together")
MASKED = -1.0e9
MASKED_CUT = MASKED / 10  # scores below this are masked items (already in the basket)
PROFILE_CACHE = 8192


class ModelLoadError(EdgeError):
    """A model directory was refused: ``reason`` says why (``kind`` is a stable code)."""

    def __init__(self, directory: str, file: str, kind: str, reason: str) -> None:
        self.directory = directory
        self.file = file
        self.kind = kind
        self.reason = reason
        super().__init__(f"offer model in {directory} refused ({kind}, {file}): {reason}")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def items_sha256(items: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(items).encode("utf-8")).hexdigest()


def _read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelLoadError(str(directory), MANIFEST_FILE, "missing", "no manifest.json") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(str(directory), MANIFEST_FILE, "corrupt", f"unreadable: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelLoadError(str(directory), MANIFEST_FILE, "format", f"format is not {FORMAT!r}")
    items, files = manifest.get("items"), manifest.get("files")
    if not isinstance(items, list) or not items or not all(isinstance(i, str) and i for i in items):
        raise ModelLoadError(str(directory), MANIFEST_FILE, "items", "item table missing or malformed")
    if len(set(items)) != len(items):
        raise ModelLoadError(str(directory), MANIFEST_FILE, "items", "item table has duplicates")
    if not isinstance(files, dict) or MODEL_FILE not in files:
        raise ModelLoadError(str(directory), MANIFEST_FILE, "files", f"files table lacks {MODEL_FILE}")
    return manifest


def _verify_files(directory: Path, files: dict[str, Any]) -> None:
    for name, entry in files.items():
        if not isinstance(entry, dict) or "sha256" not in entry or Path(name).name != name:
            raise ModelLoadError(str(directory), name, "files", "malformed files entry")
        path = directory / name
        if not path.is_file():
            raise ModelLoadError(str(directory), name, "missing", "listed in the manifest but absent")
        size = path.stat().st_size
        if "bytes" in entry and size != entry["bytes"]:
            raise ModelLoadError(
                str(directory),
                name,
                "truncated" if size < entry["bytes"] else "size",
                f"{size} bytes, manifest says {entry['bytes']}",
            )
        actual = sha256_file(path)
        if actual != entry["sha256"]:
            raise ModelLoadError(
                str(directory),
                name,
                "sha256",
                f"sha256 {actual[:16]}... != manifest {str(entry['sha256'])[:16]}...",
            )


def _fast_run(session: ort.InferenceSession) -> Any:
    """The session's run without the Python wrapper's per-call checks (which inputs are missing,
    OrtValue ownership, WebGPU capture: none can fail for the fixed feed built here). That is
    onnxruntime's bound C++ method: about 10 us of a 80 us call. Falls back to the public
    ``run`` if a future onnxruntime lacks it (the version is pinned in constraints.txt)."""
    bound = getattr(getattr(session, "_sess", None), "run", None)
    return bound if callable(bound) else session.run


class OfferModel:
    """A verified offer model, ready to rank. Thread-safe for concurrent ``rank`` calls."""

    def __init__(self, directory: Path, session: ort.InferenceSession, manifest: dict[str, Any]) -> None:
        self.directory = directory
        self.session = session
        self.manifest = manifest
        self.items: tuple[str, ...] = tuple(manifest["items"])
        self.index: dict[str, int] = {item: i for i, item in enumerate(self.items)}
        self.version = str(manifest.get("model_version", "unknown"))
        meta = session.get_modelmeta().custom_metadata_map
        self.params: dict[str, float] = json.loads(meta["smartshelf.params"])
        self._pad = len(self.items)
        self._outputs = list(OUTPUTS)
        self._run = _fast_run(session)
        # Per-run options with the session's log level: onnxruntime's default run options log at
        # warning level, and preparing that run logger costs about 6 us per call.
        self.run_options = ort.RunOptions()
        self.run_options.log_severity_level = 3
        self._pad_basket = np.array([self._pad], dtype=np.int64)
        self._pad_weights = np.zeros(1, dtype=np.float32)
        self._zero = np.zeros(1, dtype=np.float32)
        self._everything = np.arange(self._pad, dtype=np.int64)
        self._allowed: dict[frozenset[str], np.ndarray] = {}
        self._k_inputs: dict[int, np.ndarray] = {}
        self._encoded: dict[int, tuple[Profile, tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}

    @classmethod
    def load(cls, directory: str | Path, threads: int = 1) -> OfferModel:
        """Verify and load ``directory``; raise :class:`ModelLoadError` when anything is off."""
        directory = Path(directory)
        manifest = _read_manifest(directory)
        _verify_files(directory, manifest["files"])
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Tensors here are a few KB: plain malloc beats the arena's bookkeeping (about 2 us of a
        # 70 us call) and nothing stays reserved between calls.
        options.enable_cpu_mem_arena = False
        try:
            session = ort.InferenceSession(
                str(directory / MODEL_FILE), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad graphs
            raise ModelLoadError(
                str(directory), MODEL_FILE, "corrupt", f"onnxruntime refused it: {exc}"
            ) from None
        meta = session.get_modelmeta().custom_metadata_map
        inputs = tuple(i.name for i in session.get_inputs())
        outputs = tuple(o.name for o in session.get_outputs())
        if meta.get("smartshelf.format") != FORMAT or inputs != INPUTS or outputs != OUTPUTS:
            raise ModelLoadError(
                str(directory),
                MODEL_FILE,
                "contract",
                f"not an offer model graph (inputs {inputs}, outputs {outputs})",
            )
        items = manifest["items"]
        if meta.get("smartshelf.n_items") != str(len(items)) or meta.get(
            "smartshelf.items_sha256"
        ) != items_sha256(items):
            raise ModelLoadError(
                str(directory),
                MANIFEST_FILE,
                "item-table",
                f"item table ({len(items)} items) does not match the model ({meta.get('smartshelf.n_items')} items)",
            )
        if "smartshelf.params" not in meta:
            raise ModelLoadError(str(directory), MODEL_FILE, "contract", "graph lacks its parameters")
        return cls(directory, session, manifest)

    # ------------------------------------------------------------------ API
    def profile(self, history: Sequence[Sequence[str]]) -> Profile:
        """Profile of one shopper from past baskets (oldest first, each a list of product ids)."""
        return compute_profile(history, float(self.params["decay"]))

    def rank(self, basket: Sequence[str], profile: Profile | None = None, k: int = 10) -> list[str]:
        """Product ids best first, at most ``k``, none already in ``basket``."""
        return list(self.candidates(basket, profile, k).ids)

    def candidates(
        self,
        basket: Sequence[str],
        profile: Profile | None = None,
        k: int = 10,
        within: frozenset[str] | None = None,
    ) -> CandidateList:
        """Like :meth:`rank` with each product's score and social-proof share (a list-like
        :class:`CandidateList` of :class:`Candidate`, best first).

        ``within`` restricts the result to those products (e.g. ``catalogue.stocked()``: what this
        store has on its shelves), so a small store still gets ``k`` candidates it can offer.
        """
        allowed = self._everything if within is None else self.allowed(within)
        k = min(k, len(allowed))
        if k <= 0:
            return CandidateList([], [], [])
        get = self.index.get
        basket_idx = [i for p in dict.fromkeys(basket) if (i := get(p)) is not None]
        basket_idx.append(self._pad)
        if profile is not None and profile.n_baskets > 0:
            p_items, p_weights, p_baskets = self._encode(profile)
        else:
            p_items, p_weights, p_baskets = self._pad_basket, self._pad_weights, self._zero
        scores, items, together = self._run(
            self._outputs,
            {
                "basket": np.array(basket_idx, dtype=np.int64),
                "profile_items": p_items,
                "profile_weights": p_weights,
                "profile_baskets": p_baskets,
                "allowed": allowed,
                "k": self._k_input(k),
            },
            self.run_options,
        )
        score_list = scores.tolist()
        valid = len(score_list)
        while valid and score_list[valid - 1] < MASKED_CUT:  # masked items (in the basket) come last
            valid -= 1
        if valid < len(score_list):
            del score_list[valid:]
            return CandidateList.indexed(
                items[:valid].tolist(), self.items, score_list, together[:valid].tolist(), tuple(basket)
            )
        return CandidateList.indexed(items.tolist(), self.items, score_list, together.tolist(), tuple(basket))

    def _k_input(self, k: int) -> np.ndarray:
        k = min(k, self._pad)
        array = self._k_inputs.get(k)
        if array is None:
            array = self._k_inputs[k] = np.array([k], dtype=np.int64)
        return array

    def _encode(self, profile: Profile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The profile as graph inputs, cached per profile object (profiles are immutable)."""
        hit = self._encoded.get(id(profile))
        if hit is not None and hit[0] is profile:
            return hit[1]
        index = self.index
        pairs = [(index[p], w) for p, w in zip(profile.items, profile.weights, strict=True) if p in index]
        pairs.sort(key=lambda iw: -iw[1])  # strongest first (the graph's history part reads the head)
        arrays = (
            np.array([i for i, _ in pairs] + [self._pad], dtype=np.int64),
            np.array([w for _, w in pairs] + [0.0], dtype=np.float32),
            np.array([float(profile.n_baskets)], dtype=np.float32),
        )
        if len(self._encoded) >= PROFILE_CACHE:
            self._encoded.clear()
        self._encoded[id(profile)] = (profile, arrays)
        return arrays

    def allowed(self, within: frozenset[str]) -> np.ndarray:
        """The cached ``allowed`` input: the item indices of the products in ``within`` the model
        knows, in item order (ties in score then come out in a stable order)."""
        allowed = self._allowed.get(within)
        if allowed is None:
            index = self.index
            allowed = np.array(sorted(index[p] for p in within if p in index), dtype=np.int64)
            if len(self._allowed) >= 256:
                self._allowed.clear()
            self._allowed[within] = allowed
        return allowed
