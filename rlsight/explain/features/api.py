"""The notebook API: ``rlsight.features`` and ``rlsight.ablate``, DataFrames out.

    import rlsight
    rlsight.features("runs/a")                 # one row per feature: label, value/policy share
    rlsight.features("runs/a", "runs/b")       # both models' features, matched, with the null
    rlsight.ablate("runs/a", feature=0)        # change in return and length, with 95% intervals
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rlsight.explain.features.compare import FeatureComparison
from rlsight.explain.features.runs import ablate_run, compare_runs, run_features
from rlsight.explain.features.store import FeatureSet


def feature_table(fs: FeatureSet, run: str) -> pd.DataFrame:
    """One row per feature of ``fs``: run, feature, label, value_share, policy_share."""
    return pd.DataFrame([{"run": run, "feature": f.index, "label": f.label, "value_share": f.value_share,
                          "policy_share": f.policy_share} for f in fs.features])


def comparison_table(cmp: FeatureComparison) -> pd.DataFrame:
    """One row per feature of either model: run, feature, label, shares, best match in the
    other model, its correlation, the null's threshold, matched (False: the other lacks it)."""
    rows = []
    for side, run, other in (("a", cmp.meta.get("run_a", "A"), cmp.meta.get("run_b", "B")),
                             ("b", cmp.meta.get("run_b", "B"), cmp.meta.get("run_a", "A"))):
        for m in getattr(cmp, side):
            rows.append({"run": run, "feature": m.feature, "label": m.label, "value_share": m.value_share,
                         "policy_share": m.policy_share, "other_run": other, "best_match": f"F{m.best_match}",
                         "best_corr": m.best_corr, "null_threshold": m.null_threshold, "p_value": m.p_value,
                         "matched": m.matched})
    return pd.DataFrame(rows)


def features(run: str | Path, run_b: str | Path | None = None, **kwargs) -> pd.DataFrame:
    """The run's features (computed once and stored), or with ``run_b`` both runs'
    features compared on ``run``'s frames; keyword arguments as ``run_features`` /
    ``compare_runs`` (k, layer, frames, method, steps, overwrite, spec, say)."""
    if run_b is None:
        fs = run_features(run, **kwargs)
        return feature_table(fs, Path(run).name)
    cmp, _ = compare_runs(run, run_b, **kwargs)
    return comparison_table(cmp)


def ablation_table(res: dict) -> pd.DataFrame:
    """One row per measure (return, length): baseline, ablated, change and its interval, verdict."""
    rows = []
    for what in ("return", "length"):
        ci = res[f"{what}_change"]
        rows.append({"run": res.get("run"), "feature": res["feature"], "label": res["label"], "measure": what,
                     "baseline": res[f"baseline_{what}"], "ablated": res[f"ablated_{what}"], "change": ci["mean"],
                     "ci_low": ci["low"], "ci_high": ci["high"], "episodes": res["episodes"],
                     "verdict": res[f"{what}_verdict"]})
    return pd.DataFrame(rows)


def ablate(run: str | Path, feature: int, **kwargs) -> pd.DataFrame:
    """Remove stored feature ``feature`` of the run and play held-out episodes with and
    without it (keyword arguments as ``ablate_run``: episodes, seed, greedy, say)."""
    res, _ = ablate_run(run, feature, **kwargs)
    return ablation_table(res)
