"""Commands of workbench.batch. register() declares arguments only: no heavy imports here."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add this package's commands to the ``biocoach`` subparsers."""
    del sub


def _unused(args: argparse.Namespace) -> int:
    return 0
