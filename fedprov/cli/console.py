"""The console that commands print their results to.

In a terminal, rich fits tables to the terminal's width. Piped into a file
or another program, rich would assume 80 columns and squeeze wide tables
into one letter per line, so the console is then as wide as the rows need.
"""

from __future__ import annotations

import sys

from rich.console import Console

__all__ = ["PIPE_WIDTH", "stdout_console"]

#: Width of output that goes to a pipe or a file. Tables are only as wide as
#: their cells, so this is a limit, not padding.
PIPE_WIDTH = 1000


def stdout_console(*, highlight: bool = True) -> Console:
    """Return a console on standard output, wide enough for whole rows when piped.

    Build it when printing, because the width depends on where standard
    output points at that moment (tests swap it for a buffer).
    """
    width = None if sys.stdout.isatty() else PIPE_WIDTH
    return Console(highlight=highlight, width=width)
