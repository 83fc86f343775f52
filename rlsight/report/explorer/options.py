"""The explorer's settings and its page record; light (no torch), for the CLI and the report."""

from __future__ import annotations

from dataclasses import dataclass, field

from rlsight.errors import RlsightError

DEFAULT_METHODS = ("gradient", "integrated-gradients")


@dataclass
class ExploreOptions:
    """The explorer's episode and saliency settings (``rlsight report --explore ...``)."""

    level: int | None = None  # None: the first run's first held-out level
    seed: int = 0
    steps: int = 1000  # the episode is cut after this many steps
    methods: tuple[str, ...] = DEFAULT_METHODS
    bookmarks: int = 8
    max_pairs: int = 6

    def validate(self) -> ExploreOptions:
        """Raise a one-line RlsightError for a bad value; returns self."""
        if self.level is not None and self.level < 0:
            raise RlsightError(f"--explore-level {self.level}: must be >= 0")
        if self.seed < 0:
            raise RlsightError(f"--explore-seed {self.seed}: must be >= 0")
        if not 1 <= self.steps <= 10_000:
            raise RlsightError(f"--explore-steps {self.steps}: must be between 1 and 10000")
        if not self.methods:
            raise RlsightError("--explore-methods: give at least one saliency method (rlsight saliency --help lists them)")
        from rlsight.explain.saliency.methods import METHODS, check_choice

        for m in self.methods:
            check_choice("method", m, METHODS)
        return self


@dataclass
class Page:
    """One explorer page: its file stem, the JSON it embeds, and its images (path under
    the explore folder -> encoded bytes)."""

    slug: str
    title: str
    data: dict
    images: dict[str, bytes] = field(default_factory=dict)
