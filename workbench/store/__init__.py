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
from workbench.store.repositories import (
    Clip,
    FeedbackEvent,
    HistoryEntry,
    ReferenceDiff,
    ReferenceVersion,
    RulesVersion,
    Run,
    SalientLabel,
    Store,
    StoreStatus,
    ThresholdVersion,
    sha256_file,
)
from workbench.store.rules import StoreVersions, ThresholdSpec
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

__all__ = [
    "DEFAULT_DB_PATH",
    "Clip",
    "ConflictError",
    "Database",
    "ExportReport",
    "FeedbackEvent",
    "HistoryEntry",
    "ImportReport",
    "InitReport",
    "MigrationError",
    "ReferenceDiff",
    "ReferenceVersion",
    "RulesVersion",
    "Run",
    "SalientLabel",
    "Session",
    "Store",
    "StoreBusyError",
    "StoreCatalogue",
    "StoreError",
    "StoreStatus",
    "StoreVersions",
    "ThresholdSpec",
    "ThresholdVersion",
    "ValidationError",
    "export",
    "import_dir",
    "init_from_references",
    "load_store_catalogue",
    "sha256_file",
]
