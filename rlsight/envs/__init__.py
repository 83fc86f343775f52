"""Environment families behind one vector-env interface (``family``), and episode statistics.

Code above this package uses ``make_env``, ``family_of`` and ``normalized_return``;
only ``rlsight.envs.<family>`` imports a backend.
"""

from rlsight.envs.family import (
    DEFAULT_FAMILY,
    FAMILIES,
    EnvFamily,
    VecEnv,
    episode_stats,
    family_of,
    get_family,
    make_env,
    normalized_return,
)
from rlsight.envs.stats import EpisodeTracker

__all__ = ["DEFAULT_FAMILY", "EnvFamily", "VecEnv", "FAMILIES", "family_of", "get_family", "make_env", "normalized_return",
           "EpisodeTracker", "episode_stats"]
