"""Re-analysing a cached clip after a threshold edit, against its first analysis (target: ≥ 20× faster).

The first analysis of a 10 s 640×360 clip runs MediaPipe; the expert then edits a threshold in the store;
the second analysis reads the pose track from the store's cache by the clip's content hash and applies the
new threshold. Both go through `workbench.pipeline.analyze_clip`, as the CLI and the app do.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench_video import make_clip


def main() -> dict[str, float]:
    from workbench.pipeline import analyze_clip, default_database

    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp) / "clip.mp4")
        db = default_database(Path(tmp) / "store.duckdb")
        start = time.perf_counter()
        first = analyze_clip(clip, "bicep_curl", db=db)
        t_first = time.perf_counter() - start
        with db.store() as store:
            current = store.thresholds.get("bicep_curl", "peak_contraction")
            store.thresholds.edit(
                "bicep_curl",
                "peak_contraction",
                base_version=current.version,
                author="bench",
                note="looser",
                bounds_deg=(100.0, None),
            )
        start = time.perf_counter()
        second = analyze_clip(clip, "bicep_curl", db=db)
        t_second = time.perf_counter() - start
    assert second.cache_hit and not first.cache_hit
    assert second.analysis.provenance["threshold_versions"]["peak_contraction"] == current.version + 1
    print(
        f"cache: first analysis (MediaPipe) {t_first:.2f} s, re-analysis after a threshold edit {t_second:.3f} s: "
        f"{t_first / t_second:.0f}x faster (target >= 20x)"
    )
    return {"first_s": t_first, "cached_s": t_second}


if __name__ == "__main__":
    main()
