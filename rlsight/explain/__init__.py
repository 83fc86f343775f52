"""Explanations of trained agents: saliency methods (``explain.saliency``) and the
evidence that they explain the model (``explain.faithfulness``)."""
