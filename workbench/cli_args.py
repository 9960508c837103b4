"""What every ``biocoach`` command checks the same way: option values, output paths, and ``--db``.

Option values are checked by argparse types (a bad one exits 2 with "argument --mass: expected …, got …"
before any work). Output paths are checked before work starts (:func:`check_output_file`,
:func:`check_output_dir`), so an hour of analysis never ends in "No such file or directory".

``--db`` (:func:`add_db_option`, :func:`store_path`): every command that touches the store takes ``--db PATH``
after its own subcommand (``biocoach db`` also before it, as it always did). A ``--db`` that does not exist
is created only by ``biocoach db init`` or with ``--create``; otherwise it is refused with the path, so a typo
never silently starts a new, empty store. The default store (``$BIOCOACH_DB``, else ``db/biocoach.duckdb``) is
still created and seeded on first use.

Stdlib only: the CLI modules import this while building the parser (``biocoach --help`` stays instant).
"""

from __future__ import annotations

import argparse
import math
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

DB_HELP = "the store (default: $BIOCOACH_DB or db/biocoach.duckdb, created on first use); a --db that does not exist is refused unless --create"  # noqa: E501
MAX_MASS_KG = 500.0  # heavier than any person measured; 1e308 is a typo, not a body


# ---------------------------------------------------------------------------------------------- option values


def number(
    low: float, high: float, *, low_open: bool = False, high_open: bool = False, what: str = "a number"
) -> Callable[[str], float]:
    """An argparse type: a finite float in the interval (``low``/``high`` open or closed)."""
    left, right = "(" if low_open else "[", ")" if high_open else "]"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        inside = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
        if not (math.isfinite(value) and inside):
            raise argparse.ArgumentTypeError(f"expected {what} in {left}{low:g}, {high:g}{right}, got {text}")
        return value

    parse.__name__ = what  # argparse names the type in its messages
    return parse


def integer(low: int, high: int | None = None, *, what: str = "an integer") -> Callable[[str], int]:
    """An argparse type: an integer in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bound = f"≥ {low}" if high is None else f"in [{low}, {high}]"
            raise argparse.ArgumentTypeError(f"expected {what} {bound}, got {value}")
        return value

    parse.__name__ = what
    return parse


probability = number(0.0, 1.0, what="a fraction")
mass_kg = number(0.0, MAX_MASS_KG, low_open=True, what="a mass in kg")
port = integer(1, 65535, what="a TCP port")


def existing_file(text: str) -> Path:
    """An argparse type: a path to an existing regular file (a model, a manifest)."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"expected an existing file, got {text} (no such file)")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"expected a file, got {text} ({_kind(path)})")
    return path


# ---------------------------------------------------------------------------------------------- output paths


def check_output_file(path: str | Path | None, option: str) -> None:
    """Refuse, before any work, an output file that cannot be written: a folder given for the file, a folder
    to write into that does not exist or is a file. ``-`` (stdout) and None pass."""
    if path is None or str(path) == "-":
        return
    p = Path(path)
    if p.is_dir():
        raise WorkbenchError(f"{option} {p}: expected a file to write, got a folder")
    parent = p.parent
    if not parent.exists():
        raise WorkbenchError(f"{option} {p}: expected an existing folder to write into, got no folder {parent}")
    if not parent.is_dir():
        raise WorkbenchError(f"{option} {p}: expected {parent} to be a folder, got {_kind(parent)}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise WorkbenchError(f"{option} {p}: expected a folder this user may write into, got {parent} (read-only)")


def check_output_dir(path: str | Path | None, option: str) -> None:
    """Refuse, before any work, an output folder that cannot be made: a file in its place or above it."""
    if path is None:
        return
    p = Path(path)
    if p.exists():
        if not p.is_dir():
            raise WorkbenchError(f"{option} {p}: expected a folder to write into, got {_kind(p)}")
        return
    for above in p.parents:  # the nearest one that exists must be a folder (the rest are created)
        if above.exists():
            if not above.is_dir():
                raise WorkbenchError(f"{option} {p}: expected {above} to be a folder, got {_kind(above)}")
            return


def _kind(path: Path) -> str:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    if stat.S_ISREG(mode):
        return "a file"
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


# ---------------------------------------------------------------------------------------------- --db


def add_db_option(parser: argparse.ArgumentParser, *, suppress: bool = False, help: str = DB_HELP) -> None:
    """``--db PATH`` and ``--create``. ``suppress``: leave them unset when not given (a subcommand's copy of its
    group's options, so ``biocoach db --db X status`` and ``biocoach db status --db X`` both work)."""
    default: Any = argparse.SUPPRESS if suppress else None
    parser.add_argument("--db", type=Path, default=default, metavar="PATH", help=help)
    parser.add_argument(
        "--create",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="create the store at --db if it does not exist (`biocoach db init` does too)",
    )


def store_path(args: argparse.Namespace, *, create: bool = False) -> Path | None:
    """The ``--db`` given (None: the default store). One that does not exist is refused unless ``create``
    (``biocoach db init``) or ``--create``; one that is not a file is refused."""
    raw = getattr(args, "db", None)
    if raw is None:
        return None
    path = Path(raw)
    if path.exists():
        if not path.is_file():
            raise WorkbenchError(f"--db {path}: expected a store file, got {_kind(path)}")
        return path
    if create or getattr(args, "create", False):
        check_output_dir(path.parent, "--db")  # its folders are made: none of them may be a file
        return path
    hint = "no folder " + str(path.parent) if not path.parent.is_dir() else "no such file"
    raise WorkbenchError(
        f"--db {path}: expected an existing store, got {hint}; `biocoach db init --db {path}` "
        f"creates one (or add --create)"
    )
