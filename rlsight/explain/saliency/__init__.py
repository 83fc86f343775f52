"""Saliency maps for policy and value: methods with one call shape, overlays, videos,
side-by-side comparisons (``record``); their faithfulness checks live in ``rlsight.explain.faithfulness``."""

from rlsight.explain.saliency.methods import METHODS, MethodOptions, make_method
from rlsight.explain.saliency.record import SaliencyResult, record
from rlsight.explain.saliency.render import RenderOptions
from rlsight.explain.saliency.video import write_frames

__all__ = ["METHODS", "MethodOptions", "RenderOptions", "SaliencyResult", "make_method", "record", "write_frames"]
