"""``python -m pylts`` and the ``pylts`` command.

The command line is parsed before anything heavy is imported: ``pylts --help``, ``pylts --version`` and a usage
error answer without importing pydantic or the settings models (`pylts.cli_parser`).
"""

import sys

from ._version import __version__
from .cli_parser import parse


def entry() -> None:
    """Parse the command line, then run the command (`pylts.cli.run`) and exit with its code."""
    args = parse(None, version=__version__)
    from .cli import run  # here, not at the top: --help and a usage error end in parse() without it

    sys.exit(run(args))


if __name__ == "__main__":
    entry()
