"""Labelled repetitions: the manifest that calibration and assessment read, and the UI-PRMD importer.

A manifest is a CSV file with the columns ``file,exercise,label,subject,episode,source``: one labelled
repetition (or clip) per row. ``file`` is any input the pipeline reads (a pose ``.npz``, a landmark file,
a video), relative to the manifest's folder unless absolute; ``label`` is ``correct`` or ``incorrect``;
``subject`` groups the rows of one person (cross-validation leaves one subject out at a time).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.data.kinect import kinect_landmarks, read_kinect_rep, unobserved_mask
from workbench.errors import WorkbenchError
from workbench.io.inputs import require_regular_file
from workbench.pose.landmark_files import landmarks_to_track
from workbench.pose.posefile import save_npz
from workbench.pose.track import PoseTrack

MANIFEST_COLUMNS = ("file", "exercise", "label", "subject", "episode", "source")
LABELS = ("correct", "incorrect")
# UI-PRMD movement codes → catalogue keys.
UIPRMD_MOVEMENTS = {
    "m01": "deep_squat",
    "m02": "hurdle_step",
    "m03": "inline_lunge",
    "m04": "side_lunge",
    "m05": "sit_to_stand",
}
_UIPRMD_NAME = re.compile(r"^(m\d\d)_s(\d\d)_e(\d\d)_positions(_inc)?\.txt(\.gz)?$")


class ManifestError(WorkbenchError):
    """A manifest that cannot be read as documented."""


@dataclass(frozen=True)
class ManifestRow:
    file: str
    exercise: str
    label: str
    subject: str
    episode: str
    source: str
    path: Path  # ``file`` resolved against the manifest's folder

    @property
    def incorrect(self) -> bool:
        return self.label == "incorrect"


def read_manifest(path: str | Path) -> list[ManifestRow]:
    """Rows of a labelled manifest, checked: every column present, labels known, files that exist."""
    path = require_regular_file(path, ManifestError)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read the manifest ({exc})") from None
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in MANIFEST_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ManifestError(f"{path}: expected columns {','.join(MANIFEST_COLUMNS)}, missing {', '.join(missing)}")
    rows = []
    for i, raw in enumerate(reader, start=2):
        where = f"{path}: line {i}"
        label = (raw["label"] or "").strip().lower()
        if label not in LABELS:
            raise ManifestError(f"{where}: label: expected correct or incorrect, got {raw['label']!r}")
        file = (raw["file"] or "").strip()
        if not file:
            raise ManifestError(f"{where}: file: expected a path, got an empty cell")
        resolved = Path(file) if Path(file).is_absolute() else path.parent / file
        if not resolved.exists():
            raise ManifestError(f"{where}: file {file!r}: not found (looked in {resolved})")
        require_regular_file(resolved, ManifestError)
        exercise = (raw["exercise"] or "").strip()
        if not exercise:
            raise ManifestError(f"{where}: exercise: expected an exercise key, got an empty cell")
        rows.append(
            ManifestRow(
                file=file,
                exercise=exercise,
                label=label,
                subject=(raw["subject"] or "").strip(),
                episode=(raw["episode"] or "").strip(),
                source=(raw["source"] or "").strip(),
                path=resolved,
            )
        )
    if not rows:
        raise ManifestError(f"{path}: expected at least one labelled row, got none")
    return rows


def write_manifest(path: str | Path, rows: Iterable[Sequence[str]]) -> Path:
    """Write rows (in MANIFEST_COLUMNS order) as a manifest, sorted for a deterministic file."""
    path = Path(path)
    ordered = sorted(tuple(str(v) for v in r) for r in rows)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(MANIFEST_COLUMNS)
        writer.writerows(ordered)
    return path


# ------------------------------------------------------------------------------------------ UI-PRMD


@dataclass(frozen=True)
class UiprmdFile:
    positions: Path
    angles: Path
    movement: str
    subject: int
    episode: int
    label: str

    @property
    def stem(self) -> str:
        suffix = "_inc" if self.label == "incorrect" else ""
        return f"{self.movement}_s{self.subject:02d}_e{self.episode:02d}{suffix}"


@dataclass(frozen=True)
class ImportReport:
    manifest: Path
    n_files: int
    by_exercise: dict[str, dict[str, int]]
    warnings: list[str]

    def message(self) -> str:
        lines = [f"imported {self.n_files} repetition(s) into {self.manifest.parent} (manifest {self.manifest.name})"]
        for ex, counts in sorted(self.by_exercise.items()):
            lines.append(f"  {ex:14s} {counts.get('correct', 0):4d} correct  {counts.get('incorrect', 0):4d} incorrect")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def find_uiprmd(
    src: str | Path, *, subjects: Sequence[int] | None = None, movements: Sequence[str] | None = None
) -> list[UiprmdFile]:
    """The repetitions under ``SRC/kinect/{correct,incorrect}/positions`` with their angles files."""
    root = Path(src)
    kinect = root / "kinect" if (root / "kinect").is_dir() else root
    if not (kinect / "correct").is_dir() and not (kinect / "incorrect").is_dir():
        raise WorkbenchError(
            f"{src}: expected the UI-PRMD layout kinect/{{correct,incorrect}}/{{positions,angles}}/, "
            f"found neither kinect/correct nor kinect/incorrect"
        )
    wanted_moves = None if not movements else {_movement_code(m) for m in movements}
    found = []
    for label in LABELS:
        pos_dir = kinect / label / "positions"
        if not pos_dir.is_dir():
            continue
        for pos in sorted(pos_dir.iterdir()):
            m = _UIPRMD_NAME.match(pos.name)
            if m is None:
                continue
            move, subject, episode = m.group(1), int(m.group(2)), int(m.group(3))
            if (wanted_moves and move not in wanted_moves) or (subjects and subject not in subjects):
                continue
            angles = kinect / label / "angles" / pos.name.replace("_positions", "_angles")
            if not angles.is_file():
                raise WorkbenchError(
                    f"{pos}: its angles file {angles} is missing (both are needed for the world positions)"
                )
            found.append(UiprmdFile(pos, angles, move, subject, episode, label))
    if not found:
        raise WorkbenchError(
            f"{src}: no UI-PRMD repetition matched (subjects {list(subjects or []) or 'all'}, "
            f"movements {sorted(wanted_moves or []) or 'all'})"
        )
    return found


def _movement_code(text: str) -> str:
    t = text.strip().lower()
    if t in UIPRMD_MOVEMENTS:
        return t
    by_key = {v: k for k, v in UIPRMD_MOVEMENTS.items()}
    if t in by_key:
        return by_key[t]
    raise WorkbenchError(f"--movements: expected m01-m05 or one of {', '.join(by_key)}, got {text!r}")


def kinect_pose_track(positions: Path, angles: Path, source: str) -> tuple[PoseTrack, list[str]]:
    """A Kinect repetition as a SKEL pose track through the landmark path's filtering and IK."""
    rep = read_kinect_rep(positions, angles, source=source)
    track, warnings = landmarks_to_track(kinect_landmarks(rep), fps=rep.fps)
    unseen = unobserved_mask()
    q = track.q.copy()
    q[:, unseen] = np.nan
    meta = dict(track.meta, sensor="kinect_v2")
    track = track.with_q(q, observed=track.observed & ~unseen, source=f"uiprmd:{source}", meta=meta)
    return track, warnings


def import_uiprmd(
    src: str | Path,
    out: str | Path,
    *,
    subjects: Sequence[int] | None = None,
    movements: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """One pose ``.npz`` per repetition in ``out`` and ``out/manifest.csv`` (module doc)."""
    files = find_uiprmd(src, subjects=subjects, movements=movements)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows, warnings = [], []
    counts: dict[str, dict[str, int]] = {}
    root = Path(src)
    for k, f in enumerate(files):
        source = str(f.positions.relative_to(root)) if f.positions.is_relative_to(root) else str(f.positions)
        track, notes = kinect_pose_track(f.positions, f.angles, source)
        name = f"{f.stem}.npz"
        save_npz(track, out / name)
        warnings += [f"{f.stem}: {n}" for n in notes if "side view" not in n]
        exercise = UIPRMD_MOVEMENTS[f.movement]
        rows.append((name, exercise, f.label, f"s{f.subject:02d}", f"e{f.episode:02d}", f"UI-PRMD kinect {source}"))
        counts.setdefault(exercise, {}).setdefault(f.label, 0)
        counts[exercise][f.label] += 1
        if progress is not None:
            progress(k + 1, len(files))
    manifest = write_manifest(out / "manifest.csv", rows)
    return ImportReport(manifest=manifest, n_files=len(rows), by_exercise=counts, warnings=warnings)
