"""``symcnn zoo``: list the named (model, dataset) setups."""

from __future__ import annotations

import argparse

from .. import zoo


def add_parser(commands) -> None:
    parser = commands.add_parser("zoo", help="list the named setups")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for name in zoo.names():
        print(f"{name:24s} {zoo.get(name).description}")
    return 0
