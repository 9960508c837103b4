"""Entry point for ``panel serve workbench/dashboard/serve.py``: one app per browser session."""

import os

from workbench.dashboard.app import create_app

create_app(
    db_path=os.environ.get("BIOCOACH_DB", ""),
    data_dirs=[d for d in os.environ.get("BIOCOACH_DATA_DIRS", "").split(os.pathsep) if d],
).servable()
