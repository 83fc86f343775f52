"""rlsight: train, evaluate, compare and look inside PPO agents on Procgen.

The notebook API, imported lazily so that ``import rlsight`` stays light::

    import rlsight
    cfg = rlsight.load_config("cpu-quick", ["env.game=jumper"])
    run = rlsight.train(cfg, "runs/try1")
    rlsight.evaluate(run.path, split="test", episodes=64)
    df = rlsight.load_runs(["runs/*"])
    fig = rlsight.plot_runs(["runs/*"], metric="test_return")
    rlsight.features("runs/a", "runs/b")     # learned features compared (DataFrame)
    rlsight.ablate("runs/a", feature=0)      # one removed: change in return and length
"""

__version__ = "0.1.0"

_API = {
    "load_config": ("rlsight.config", "load"),
    "Config": ("rlsight.config", "Config"),
    "train": ("rlsight.training", "train"),
    "resume": ("rlsight.training", "resume"),
    "evaluate": ("rlsight.evaluation", "evaluate"),
    "import_checkpoint": ("rlsight.runs.importer", "import_checkpoint"),
    "load_policy": ("rlsight.runs.load", "load_policy"),
    "RunDir": ("rlsight.runs", "RunDir"),
    "make_env": ("rlsight.envs", "make_env"),
    "load_runs": ("rlsight.analysis", "load_runs"),
    "plot_runs": ("rlsight.analysis", "plot_runs"),
    "features": ("rlsight.explain.features.api", "features"),
    "ablate": ("rlsight.explain.features.api", "ablate"),
}

__all__ = [*_API, "__version__"]


def __getattr__(name: str):
    if name in _API:
        import importlib

        module, attr = _API[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'rlsight' has no attribute {name!r}")
