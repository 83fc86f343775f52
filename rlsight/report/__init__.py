"""The static HTML report (``rlsight report``): one offline page comparing runs. See docs/report.md."""

from rlsight.report.build import ASSETS, STATIC, VENDOR, build_report
from rlsight.report.explorer import ExploreOptions, write_explorer
from rlsight.report.explorer.data import Played, page_for
from rlsight.report.explorer.episode import play_episode

__all__ = ["build_report", "ASSETS", "STATIC", "VENDOR", "ExploreOptions", "Played", "page_for", "play_episode",
           "write_explorer"]
