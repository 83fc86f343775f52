"""Saliency maps for policy and value: methods with one call shape, overlays, videos,
side-by-side comparisons and the model-randomisation sanity check."""

from rlsight.saliency.compare import SaliencyResult, record
from rlsight.saliency.methods import METHODS, MethodOptions, make_method
from rlsight.saliency.render import RenderOptions
from rlsight.saliency.video import write_frames

__all__ = ["METHODS", "MethodOptions", "RenderOptions", "SaliencyResult", "make_method", "record", "write_frames"]
