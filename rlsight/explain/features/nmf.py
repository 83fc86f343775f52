"""NMF of a layer's activations into k features (scikit-learn), and each feature's
top dataset examples."""

from __future__ import annotations

import numpy as np

from rlsight.errors import RlsightError


def check_k(k: int, channels: int, layer: str) -> None:
    """A one-line error unless 1 <= k <= the layer's channel count."""
    if not 1 <= k <= channels:
        raise RlsightError(f"--k {k}: layer {layer} has {channels} channels; k must be 1..{channels}")


def fit_nmf(acts: np.ndarray, k: int, seed: int = 0, max_iter: int = 400,
            max_rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative activations (N, C, h, w) -> (components (k, C), maps (N, k, h, w)),
    every (frame, position) one sample of C channels; float32 both. With ``max_rows``,
    the components are fit on that many samples drawn at random (seeded) and every
    sample is then encoded on them."""
    from sklearn.decomposition import NMF, non_negative_factorization

    n, c, h, w = acts.shape
    if not np.any(acts > 0):
        raise RlsightError("the layer's activations are zero on every frame; no features to find")
    x = acts.transpose(0, 2, 3, 1).reshape(-1, c).astype(np.float64)
    nmf = NMF(n_components=k, init="nndsvda", max_iter=max_iter, random_state=seed)
    if max_rows is not None and len(x) > max_rows:
        rows = np.random.default_rng(seed).choice(len(x), max_rows, replace=False)
        nmf.fit(x[rows])
        coef, _, _ = non_negative_factorization(x, H=nmf.components_, n_components=k, init="custom",
                                                update_H=False, max_iter=max_iter)
    else:
        coef = nmf.fit_transform(x)
    return nmf.components_.astype(np.float32), coef.reshape(n, h, w, k).transpose(0, 3, 1, 2).astype(np.float32)


def top_examples(maps: np.ndarray, obs: np.ndarray, top: int = 8) -> dict[str, np.ndarray]:
    """Per feature, the ``top`` frames where it is most active (each frame once) and the
    image patch around the most active position: ``top_frames`` (k, T) frame indices,
    ``top_values`` (k, T), ``top_yx`` (k, T, 2) map cells, ``top_patches`` (k, T, P, P, 3)
    uint8 with P three map cells wide (at most the frame)."""
    n, k, h, w = maps.shape
    top = min(top, n)
    flat = maps.reshape(n, k, h * w)
    best = flat.max(axis=2)  # (N, k)
    order = np.argsort(-best, axis=0, kind="stable")[:top].T  # (k, T)
    cell = obs.shape[1] // h
    size = min(obs.shape[1], 3 * cell)
    frames, values, yx = order, np.take_along_axis(best.T, order, axis=1), np.zeros((k, top, 2), np.int64)
    patches = np.zeros((k, top, size, size, 3), np.uint8)
    for j in range(k):
        for t, f in enumerate(order[j]):
            y, x = divmod(int(flat[f, j].argmax()), w)
            yx[j, t] = (y, x)
            y0 = int(np.clip((y + 0.5) * cell - size / 2, 0, obs.shape[1] - size))
            x0 = int(np.clip((x + 0.5) * cell - size / 2, 0, obs.shape[2] - size))
            patches[j, t] = obs[f, y0:y0 + size, x0:x0 + size]
    return {"top_frames": frames.astype(np.int64), "top_values": values.astype(np.float32), "top_yx": yx,
            "top_patches": patches}
