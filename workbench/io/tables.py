"""Tables written whole: CSV and Parquet from rows of plain values (``biocoach export``).

Each file goes to a temporary name beside its target and is renamed over it (as ``outputs.write_text``), so a
failure part-way leaves the old file or none. Parquet is written by DuckDB (pyarrow is not a dependency).
"""

from __future__ import annotations

import csv
import io
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from workbench.io.outputs import write_text


def columns_of(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Every key of the rows, in the order first seen."""
    return list(dict.fromkeys(k for row in rows for k in row))


def write_csv(path: str | Path, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> Path:
    """A header and one line per row (an empty cell for None or a missing key)."""
    cols = list(columns) if columns is not None else columns_of(rows)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, restval="", extrasaction="raise", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return write_text(path, buf.getvalue())


def write_parquet(path: str | Path, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> Path:
    """The same table as Parquet (nulls kept as nulls)."""
    path = Path(path)
    cols = list(columns) if columns is not None else columns_of(rows)
    frame = pd.DataFrame.from_records(list(rows), columns=cols)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    con = duckdb.connect(":memory:")
    try:
        con.register("rows_table", frame)
        escaped = str(tmp).replace("'", "''")
        con.execute(f"COPY rows_table TO '{escaped}' (FORMAT PARQUET)")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        con.close()
    return path
