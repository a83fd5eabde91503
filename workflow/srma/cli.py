"""The ``srma`` command line: each workflow stage usable on its own.

Each subcommand lives in the module that holds its stage and exposes two functions,
``add_arguments(parser)`` and ``run(args) -> int``; they are imported only when the
subcommand is used, so ``srma --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from srma import __version__
from srma.errors import SrmaError

#: subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "import": (
        "srma.importers.command",
        "read search exports (or the searches of the review's config, -c) into a records table",
    ),
    "dedup": ("srma.dedup.command", "deduplicate records across search exports"),
    "screen": ("srma.screening", "PRISMA 2020 counts from screening decisions"),
    "extract": (
        "srma.extraction.command",
        "validate and harmonise study extraction files against the review's config (-c)",
    ),
    "pool": ("srma.pooling_command", "pool effect sizes (metafor-equivalent)"),
    "init": ("srma.scaffold", "make a folder of its own for a new review (run it there)"),
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The parser; only the subcommand named first in ``argv`` has its module imported."""
    parser = argparse.ArgumentParser(prog="srma", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"srma {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        if argv[:1] == [name]:
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "_module", None):
        parser.print_help()
        return 2
    # Bad input ends with one line naming the file, record and field (no traceback); so
    # does a file that cannot be read or written. Anything else is a bug: traceback.
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except SrmaError as err:
        print(f"srma {args.command}: error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        print(f"srma {args.command}: error: {where}{err.strerror or err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
