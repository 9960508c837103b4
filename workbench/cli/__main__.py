"""`python -m workbench.cli`: the same as the `biocoach` command."""

import sys

from workbench.cli import main

sys.exit(main())
