"""A model's learned features (NMF directions at one layer) and how they are stored.

``RUN/explain/features/`` holds ``features.json`` (settings and one entry per
feature: label, share of value and of policy attribution, top dataset examples)
and ``features.npz`` (the NMF directions, per-frame feature maps, per-frame
attribution per feature, top-example patches). The folder is written atomically
(layout in docs/run-directory.md).

    fs = load_features("runs/a")             # None when none stored
    maps = fs.project(model, obs_uint8)      # (N, k, h, w) float32
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from rlsight.errors import RlsightError
from rlsight.explain.features.layers import activations, resolve_layer
from rlsight.runs.atomic import atomic_dir

FEATURES_DIR = "features"
FEATURES_JSON = "features.json"
FEATURES_NPZ = "features.npz"
FEATURES_FORMAT = 1


@dataclass(frozen=True)
class FeatureInfo:
    """One feature: its index, label, and share of the value's and the policy's
    attribution at the layer (fractions of the total |attribution|; they sum to at
    most 1 over the features, the rest is what NMF does not reconstruct)."""

    index: int
    label: str
    value_share: float
    policy_share: float


@dataclass
class FeatureSet:
    """k features of one model at one layer: ``components`` (k, C) are the NMF
    directions in channel space; ``features`` the per-feature labels and shares;
    ``arrays`` the stored per-frame data (maps, attributions, top examples) and
    ``meta`` the settings (run, frames, attribution method, ...)."""

    layer: str
    components: np.ndarray
    features: list[FeatureInfo]
    meta: dict = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def k(self) -> int:
        """The number of features."""
        return int(self.components.shape[0])

    @property
    def labels(self) -> list[str]:
        """The features' labels, in index order."""
        return [f.label for f in self.features]

    @property
    def shares(self) -> list[dict]:
        """Per feature: {"index", "label", "value_share", "policy_share"}."""
        return [asdict(f) for f in self.features]

    def encode(self, acts: np.ndarray) -> np.ndarray:
        """Non-negative activations (N, C, h, w) -> feature maps (N, k, h, w) float32: per
        position, the non-negative coefficients on the components (scikit-learn's NMF
        solve with the components held fixed)."""
        from sklearn.decomposition import non_negative_factorization

        n, c, h, w = acts.shape
        if c != self.components.shape[1]:
            raise RlsightError(f"layer {self.layer} has {c} channels here but the features were fit on "
                               f"{self.components.shape[1]}")
        x = np.ascontiguousarray(acts.transpose(0, 2, 3, 1).reshape(-1, c), dtype=np.float64)
        if not len(x):
            return np.zeros((0, self.k, h, w), np.float32)
        coef, _, _ = non_negative_factorization(x, H=self.components.astype(np.float64), n_components=self.k,
                                                init="custom", update_H=False, max_iter=400)
        return coef.reshape(n, h, w, self.k).transpose(0, 3, 1, 2).astype(np.float32)

    def project(self, model: torch.nn.Module, obs: np.ndarray) -> np.ndarray:
        """The per-frame feature maps: ``model``'s activation at ``self.layer`` on uint8
        frames (N, 64, 64, 3), projected on each component -> float32 (N, k, h, w)."""
        _, module, _ = resolve_layer(model, self.layer)
        return self.encode(activations(model, module, obs))


def features_dir(run_dir: str | Path) -> Path:
    """Where a run keeps its features."""
    return Path(run_dir) / "explain" / FEATURES_DIR


def save_features(run_dir: str | Path, fs: FeatureSet, overwrite: bool = False) -> Path:
    """Write ``fs`` into ``RUN/explain/features/`` (the folder atomically). Stored features
    are replaced only with ``overwrite``; otherwise a one-line error."""
    final = features_dir(run_dir)
    if (final / FEATURES_JSON).exists() and not overwrite:
        raise RlsightError(f"{final} already holds features; pass --overwrite (overwrite=True) to replace them")
    final.parent.mkdir(parents=True, exist_ok=True)
    doc = {"format": FEATURES_FORMAT, "layer": fs.layer, "k": fs.k, "meta": fs.meta, "features": fs.shares}
    buf = io.BytesIO()
    np.savez_compressed(buf, components=fs.components.astype(np.float32), **fs.arrays)

    def fill(tmp: Path) -> None:
        (tmp / FEATURES_NPZ).write_bytes(buf.getvalue())
        (tmp / FEATURES_JSON).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    atomic_dir(final, fill, replace=True)
    return final


def load_features(run_dir: str | Path, arrays: bool = True) -> FeatureSet | None:
    """The features stored in ``run_dir`` (None when none are); ``arrays=False`` skips the
    per-frame arrays (only the components are read). A damaged store is a one-line error."""
    d = features_dir(run_dir)
    if not (d / FEATURES_JSON).is_file():
        return None
    try:
        doc = json.loads((d / FEATURES_JSON).read_text())
        with np.load(d / FEATURES_NPZ) as z:
            comps = z["components"]
            extra = {k: z[k] for k in z.files if k != "components"} if arrays else {}
        feats = [FeatureInfo(int(f["index"]), str(f["label"]), float(f["value_share"]), float(f["policy_share"]))
                 for f in doc["features"]]
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise RlsightError(f"{d}: not a readable feature store ({type(e).__name__}: {e})") from None
    if doc.get("format", 0) > FEATURES_FORMAT:
        raise RlsightError(f"{d}: feature store format {doc.get('format')} is newer than this rlsight reads")
    return FeatureSet(str(doc["layer"]), comps, feats, dict(doc.get("meta", {})), extra)
