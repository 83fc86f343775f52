"""What benchmark scripts need, as public API: ``benchmarks/`` imports only this
module and the package's public names, as any user's script would.

- reporting (``rlsight.bench.report``): ``hardware``, ``write_section``,
  ``add_machine_argument``;
- timing (``rlsight.bench.timing``): ``sync``, ``seconds_per_call``,
  ``random_batch``, ``matmul_peak``;
- the pieces of training that benchmarks time on their own, documented where
  they live: ``RolloutCollector`` (one rollout), ``update_chunk_size``,
  ``update_workers`` and ``make_optimizer`` (the update as the trainer sets it
  up), ``autocast_context`` (``train.autocast``), ``minibatch_advantages`` and
  ``value_clip_range`` (the PPO loss's inputs), ``rollout_share`` (the share of
  time spent collecting rollouts);
- the CPU allocator setting the trainer applies (``rlsight.hardware``):
  ``keep_freed_memory()`` and ``ALLOCATOR_SWITCH``, the environment variable that
  turns it off (set it to "0" before the process first calls ``keep_freed_memory``);
- perturbation saliency's building blocks, to time the vectorised method against
  a plain loop: ``make_masks``, ``gaussian_blur``, ``perturbation_scores``,
  ``loop_scores`` (one forward pass per mask: the reference), ``fastest_network``
  and ``CPU_CHUNKS``;
- the saliency faithfulness check (``rlsight.explain``): ``check_run``,
  ``to_json``, ``format_result``, ``load_or_record_states``, and
  ``import_checkpoint`` for the original project's checkpoints.
"""

from rlsight.bench.report import HEADER, add_machine_argument, hardware, write_section
from rlsight.bench.timing import matmul_peak, random_batch, seconds_per_call, sync
from rlsight.explain.faithfulness.check import check_run, to_json
from rlsight.explain.faithfulness.report import format_result
from rlsight.explain.saliency.perturbation import (
    CPU_CHUNKS,
    fastest_network,
    gaussian_blur,
    loop_scores,
    make_masks,
    perturbation_scores,
)
from rlsight.explain.states import load_or_record_states
from rlsight.hardware import ENV_SWITCH as ALLOCATOR_SWITCH
from rlsight.hardware import keep_freed_memory
from rlsight.ppo.precision import autocast_context
from rlsight.ppo.update import minibatch_advantages, value_clip_range
from rlsight.runs.importer import import_checkpoint
from rlsight.training.progress import rollout_share
from rlsight.training.rollout import RolloutCollector
from rlsight.training.trainer import make_optimizer, update_chunk_size, update_workers

__all__ = [
    "HEADER", "add_machine_argument", "hardware", "write_section",
    "matmul_peak", "random_batch", "seconds_per_call", "sync",
    "CPU_CHUNKS", "fastest_network", "gaussian_blur", "loop_scores", "make_masks", "perturbation_scores",
    "autocast_context", "minibatch_advantages", "value_clip_range",
    "ALLOCATOR_SWITCH", "keep_freed_memory", "rollout_share", "RolloutCollector",
    "make_optimizer", "update_chunk_size", "update_workers",
    "check_run", "to_json", "format_result", "load_or_record_states", "import_checkpoint",
]
