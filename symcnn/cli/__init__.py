"""The command line, one module per command: ``symcnn reproduce`` derives, predicts,
simulates and draws the paper's findings; ``symcnn analyze`` predicts how the networks learn
a dataset of yours; ``symcnn simulate`` trains a zoo setup and
summarises what it learned; ``symcnn derive`` derives, checks and prints a derivation or
closed form; ``symcnn codegen`` generates the numeric kernel of a closed form; ``symcnn
check`` checks theorems; ``symcnn zoo`` lists the setups.

A bad option or argument ends the command with a one-line message on stderr and exit
status 2, never a traceback."""

from __future__ import annotations

import argparse

from .. import __version__
from ..codegen import CompilerNotFound
from . import analyze, check, codegen, derive, reproduce, simulate, zoo

COMMANDS = (reproduce, analyze, simulate, derive, codegen, check, zoo)
"""The command modules; each adds its parser with ``set_defaults(func=run)``."""


USER_ERRORS = (ValueError, TypeError, OSError, ArithmeticError, CompilerNotFound)
"""What a command raises for a bad argument or an impossible request: printed on one line."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (and exit status 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def parser() -> Parser:
    """The ``symcnn`` argument parser with every command."""
    main_parser = Parser(prog="symcnn", description=__doc__.split("\n\n")[0])
    main_parser.add_argument("--version", action="version", version=f"symcnn {__version__}")
    commands = main_parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    return main_parser


def main(argv: list[str] | None = None) -> int:
    """Run ``symcnn`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status.
    Usage errors raise ``SystemExit(2)`` with a one-line message, as argparse does."""
    main_parser = parser()
    args = main_parser.parse_args(argv)
    try:
        return args.func(args)
    except USER_ERRORS as error:
        message = str(error).strip().replace("\n", " ")
        main_parser.exit(2, f"symcnn {args.command}: error: {message}\n")
