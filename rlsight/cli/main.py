"""The ``rlsight`` command: argument parsing only; the work is in the library.

Each subcommand lives in its own module under ``rlsight.cli`` with a
``register(subparsers)`` function; add new ones to ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from rlsight import __version__
from rlsight.errors import ConfigWarning, RlsightError

COMMANDS = [
    "rlsight.cli.train",
    "rlsight.cli.evaluate",
    "rlsight.cli.import_checkpoint",
    "rlsight.cli.config",
    "rlsight.cli.saliency",
    "rlsight.cli.compare",
    "rlsight.cli.report",
    "rlsight.cli.sweep",
    "rlsight.cli.jobscript",
    "rlsight.cli.features",
    "rlsight.cli.ablate",
]


def build_parser() -> argparse.ArgumentParser:
    """The ``rlsight`` argument parser with every subcommand in ``COMMANDS`` registered."""
    parser = argparse.ArgumentParser(prog="rlsight", description="Train, evaluate, compare and look inside PPO agents on Procgen.")
    parser.add_argument("--version", action="version", version=f"rlsight {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Our own warnings as one line; others as Python prints them."""
    if issubclass(category, ConfigWarning):
        print(f"rlsight: warning: {message}", file=file or sys.stderr)
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


_python_show_warning = warnings.showwarning


def main(argv: list[str] | None = None) -> int:
    """Run the ``rlsight`` command on ``argv`` (default: ``sys.argv[1:]``); returns the exit
    status (2 and a one-line message on an ``RlsightError``)."""
    warnings.showwarning = _show_warning
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        rc = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe fails here, under the handler below, rather than at exit
        return rc
    except RlsightError as e:
        print(f"rlsight {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rlsight {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader stopped early (rlsight config | head): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that the exit's flush does not fail again
        return 141


if __name__ == "__main__":
    sys.exit(main())
