"""Choosing actions from a policy's logits: the one place that draws them.

Every caller that acts (rollouts, evaluation, saliency recordings) and the PPO
loss (log-probabilities, entropy) go through here, so a change of sampler, for
example a Gumbel-max acting step on a GPU, is made once.

Three ways to draw, all with the distribution ``softmax(logits)``:

- torch's global random stream (``generator=None``): ``Categorical.sample``, as
  training and evaluation have always drawn, so existing seeds give the same numbers;
- a ``torch.Generator`` of the caller's (saliency recordings, whose draws must not
  disturb anything else);
- pre-drawn ``gumbel`` noise of the logits' shape: ``argmax(logits + gumbel)``
  (Gumbel-max), for an acting step that draws its noise ahead, e.g. inside one
  compiled or captured call. ``gumbel_noise`` draws such noise.
"""

from __future__ import annotations

import torch
from torch.distributions import Categorical


def action_distribution(logits: torch.Tensor) -> Categorical:
    """The categorical policy over the last axis of ``logits``, without per-call argument
    checks (they would wait for a GPU)."""
    return Categorical(logits=logits, validate_args=False)


def gumbel_noise(shape: torch.Size | tuple[int, ...], device: torch.device | str = "cpu",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard Gumbel noise, -log(Exp(1)), for ``sample_actions(..., gumbel=...)``."""
    e = torch.empty(shape, device=device).exponential_(generator=generator)
    return -e.log()


def sample_actions(logits: torch.Tensor, *, greedy: bool = False, generator: torch.Generator | None = None,
                   gumbel: torch.Tensor | None = None) -> torch.Tensor:
    """Actions (N,) drawn from ``softmax(logits)`` (N, A), or its argmax with ``greedy``.

    ``generator`` draws from the caller's random stream instead of torch's global
    one; ``gumbel`` (N, A) uses noise drawn beforehand (Gumbel-max). Give at most one.
    """
    return _draw(logits, None, greedy, generator, gumbel)


def sample_with_log_prob(logits: torch.Tensor, *, greedy: bool = False, generator: torch.Generator | None = None,
                         gumbel: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(actions, their log-probabilities), the actions drawn as ``sample_actions`` draws them."""
    dist = action_distribution(logits)
    actions = _draw(logits, dist, greedy, generator, gumbel)
    return actions, dist.log_prob(actions)


def _draw(logits: torch.Tensor, dist: Categorical | None, greedy: bool, generator: torch.Generator | None,
          gumbel: torch.Tensor | None) -> torch.Tensor:
    if generator is not None and gumbel is not None:
        raise ValueError("sample_actions: give a generator or pre-drawn gumbel noise, not both")
    if greedy:
        return logits.argmax(-1)
    if gumbel is not None:
        return (logits + gumbel).argmax(-1)
    if generator is not None:
        return torch.multinomial(torch.softmax(logits, -1), 1, generator=generator).squeeze(-1)
    return (dist or action_distribution(logits)).sample()
