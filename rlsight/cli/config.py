"""rlsight config: list the configuration keys."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("config", help="list every config key with its default and meaning, or show a resolved config")
    p.add_argument("file", nargs="?", help="a config file or preset to resolve and print")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rlsight import config as C

    if args.file:
        print(C.load(args.file, args.set).to_toml(), end="")
        return 0
    for key, doc, default in C.describe():
        print(f"{key:28s} {C._toml_value(default):>12s}  {doc}")
    return 0
