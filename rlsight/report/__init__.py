"""The static HTML report (``rlsight report``): one offline page comparing runs. See docs/report.md."""

from rlsight.report.build import build_report

__all__ = ["build_report"]
