"""The versioned DuckDB store: the single source of truth for everything experts edit.

    from workbench.store import Database, init_from_references, load_store_catalogue

    db = Database("db/biocoach.duckdb")          # created and migrated on first use
    init_from_references(db)                      # idempotent
    with db.store() as store:                     # a short session: the file is locked while it is open
        t = store.thresholds.get("squat", "knee_depth")
        store.thresholds.edit("squat", "knee_depth", base_version=t.version, author="alice",
                              note="deeper for this group", bounds_deg=(100.0, None))
    catalogue = load_store_catalogue(db)          # what the analysis uses, with the versions it came from

See ``database.py`` for the concurrency design (one writer process at a time, compare-and-swap edits).
"""

from workbench.store.clips_repo import RegisteredClip, sha256_file
from workbench.store.database import (
    DEFAULT_DB_PATH,
    ConflictError,
    Database,
    MigrationError,
    Session,
    StoreBusyError,
    StoreError,
    ValidationError,
)
from workbench.store.facade import HistoryEntry, Store, StoreStatus
from workbench.store.labels_repo import SalientLabelVersion
from workbench.store.references_repo import ReferenceDiff, ReferenceVersion
from workbench.store.rules import StoreVersions
from workbench.store.rules_repo import RulesVersion
from workbench.store.runs_repo import Run
from workbench.store.seed import (
    ExportReport,
    ImportReport,
    InitReport,
    StoreCatalogue,
    export,
    import_dir,
    init_from_references,
    load_store_catalogue,
)
from workbench.store.thresholds_repo import ThresholdVersion

__all__ = [
    "DEFAULT_DB_PATH",
    "ConflictError",
    "Database",
    "ExportReport",
    "HistoryEntry",
    "ImportReport",
    "InitReport",
    "MigrationError",
    "ReferenceDiff",
    "ReferenceVersion",
    "RegisteredClip",
    "RulesVersion",
    "Run",
    "SalientLabelVersion",
    "Session",
    "Store",
    "StoreBusyError",
    "StoreCatalogue",
    "StoreError",
    "StoreStatus",
    "StoreVersions",
    "ThresholdVersion",
    "ValidationError",
    "export",
    "import_dir",
    "init_from_references",
    "load_store_catalogue",
    "sha256_file",
]
