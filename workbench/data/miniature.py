"""A miniature QEVD-fit-coach split, in exactly the published on-disk format, for tests, demos and baselines.

``<out>/<split>/feedbacks_long_range.json`` plus ``long_range_videos/NNNN.mp4`` and ``NNNN_timestamps.npy``, with
the real data's quirks: per-frame time stamps in nanoseconds that convert as ns / 1e9 + 28800 and are not
uniform (jitter and a dropped frame), one feedback string per frame collapsed into utterances (the same line
twice after a silence is two utterances; two different lines back to back are two), transitions "First up are
X!" / "Moving on to X!" and a final one that closes the workout, ``armcrosschest`` for the deltoid stretch, an
exercise name our catalogue does not know, and sessions with ids ≤ 145 stored rotated (they must be turned 90°
clockwise).

Our extension (not part of QEVD): ``NNNN_pose.npz`` next to each video, a pose track in the workbench's
``.npz`` format with ``t`` in seconds from the video's first frame. The loader attaches it to each segment, so
coaches and the QEVD-bio builder run on the miniature data without estimating poses from the (schematic)
rendered frames. Real QEVD has no such file; the workbench estimates the pose from the video instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from workbench.exercises import load_catalogue
from workbench.io.video import write_video
from workbench.pose.synthetic import Fault, synthesize
from workbench.skeleton import N_DOFS, dof_index

TIME_OFFSET_S = 28800.0  # QEVD's clock: seconds = ns / 1e9 + 28800
FPS = 30.0
FRAME_W, FRAME_H = 64, 36  # landscape storage, like the 640×360 re-encodes
TEST_SPLIT = "QEVD-FIT-COACH-Benchmark"
TRAIN_SPLIT = "QEVD-FIT-COACH"
END_OF_WORKOUT = "That's it, great workout today!"


@dataclass(frozen=True)
class Line:
    """One utterance of the script: start (s, from the segment's transition), length (s), text, kind."""

    t: float
    length: float
    text: str
    kind: str  # corrective / instructional / motivational / counting (what the generator meant)


@dataclass(frozen=True)
class Block:
    """One exercise of a session: the name as the transition says it, our key (None: not in the catalogue)."""

    name: str
    key: str | None
    seconds: float
    lines: tuple[Line, ...]
    shallow_reps: tuple[int, ...] = ()  # reps synthesised too shallow (corrective lines point at them)


def _squat_block() -> Block:
    return Block(
        "squats",
        "squat",
        13.0,
        (
            Line(3.0, 1.0, "Good job!", "motivational"),
            Line(5.4, 1.2, "Go lower, bend your knees more!", "corrective"),
            Line(7.4, 1.2, "Go lower, bend your knees more!", "corrective"),  # same line again after a silence
            Line(9.0, 0.8, "Three more!", "counting"),
            Line(9.8, 1.0, "Keep your chest up.", "instructional"),  # right after the previous line, no silence
        ),
        shallow_reps=(1, 2),
    )


def _pushup_block() -> Block:
    return Block(
        "push-ups",
        "pushup",
        12.0,
        (
            Line(3.2, 1.0, "Keep it up!", "motivational"),
            Line(6.6, 1.4, "Lower your chest all the way down.", "corrective"),
            Line(9.5, 0.8, "5 more!", "counting"),
        ),
        shallow_reps=(2,),
    )


def _stretch_block() -> Block:
    return Block(
        "armcrosschest",
        "deltoid_stretch",
        9.0,
        (
            Line(3.0, 1.5, "Pull the arm across your chest and hold.", "instructional"),
            Line(6.0, 1.0, "Nice and relaxed.", "motivational"),
        ),
    )


def _unknown_block() -> Block:
    return Block("burpee twists", None, 8.0, (Line(3.5, 1.0, "You got this!", "motivational"),))


def _silent_block() -> Block:
    # a segment without any feedback: the protocol drops it
    return Block("jumping jacks", "jumping_jack", 7.0, ())


SESSIONS: dict[str, dict[str, tuple[Block, ...]]] = {
    TEST_SPLIT: {
        "0007": (_squat_block(), _pushup_block()),
        "0150": (_stretch_block(), _silent_block(), _squat_block(), _unknown_block()),
    },
    TRAIN_SPLIT: {"0003": (_pushup_block(), _squat_block())},
}

LEAD_IN_S, TRANSITION_S, TAIL_S = 1.0, 1.5, 2.0


def build_miniature(out: str | Path, *, splits: tuple[str, ...] = (TEST_SPLIT, TRAIN_SPLIT), seed: int = 0) -> Path:
    """Write the miniature dataset under ``out`` (one folder per split); returns ``out``."""
    root = Path(out)
    rng = np.random.default_rng(seed)
    for split in splits:
        folder = root / split
        (folder / "long_range_videos").mkdir(parents=True, exist_ok=True)
        records = [_write_session(folder, vid, blocks, rng) for vid, blocks in SESSIONS[split].items()]
        (folder / "feedbacks_long_range.json").write_text(json.dumps(records, indent=1), encoding="utf-8")
    return root


def _write_session(folder: Path, video_id: str, blocks: tuple[Block, ...], rng: np.random.Generator) -> dict:
    # the script on a session clock (seconds from the first frame)
    spans: list[tuple[float, float, str, bool]] = []  # start, end, text, is_transition
    t = LEAD_IN_S
    starts = []
    for k, block in enumerate(blocks):
        text = f"First up are {block.name}!" if k == 0 else f"Moving on to {block.name}!"
        starts.append(t)
        spans.append((t, t + TRANSITION_S, text, True))
        spans += [(t + ln.t, t + ln.t + ln.length, ln.text, False) for ln in block.lines]
        t += block.seconds
    spans.append((t, t + TRANSITION_S, END_OF_WORKOUT, True))
    duration = t + TRANSITION_S + TAIL_S

    # non-uniform frame times: jitter of a few ms and one dropped frame
    n = int(duration * FPS)
    clock = np.arange(n) / FPS + rng.uniform(-0.003, 0.003, n)
    clock[0] = 0.0
    clock = np.delete(clock, n // 3)
    base_s = 1_690_000_000.0 + 17 * int(video_id)  # a wall clock; QEVD's ns stamps are 8 h behind it
    ns = ((base_s - TIME_OFFSET_S) + clock) * 1e9
    seconds = ns / 1e9 + TIME_OFFSET_S  # what a reader computes back, float64 rounding included

    feedbacks = [""] * len(clock)
    times, transitions = [], []
    for start, end, text, is_transition in spans:
        idx = np.flatnonzero((clock >= start) & (clock < end))
        for i in idx:
            feedbacks[int(i)] = text
        times.append(float(seconds[idx[0]]))
        transitions.append(is_transition)

    track_q = _pose(blocks, starts, clock, rng)
    name = f"long_range_videos/{video_id}.mp4"
    np.save(folder / f"long_range_videos/{video_id}_timestamps.npy", ns.astype(np.float64))
    np.savez(folder / f"long_range_videos/{video_id}_pose.npz", q=track_q, t=clock, source="miniature:synthetic")
    _write_video(folder / name, track_q, rotate=int(video_id) <= 145)
    return {
        "long_range_video_file": name,
        "video_timestamps": f"long_range_videos/{video_id}_timestamps.npy",
        "feedbacks": feedbacks,
        "is_transition": transitions,
        "feedback_timestamps": times,
    }


def _pose(
    blocks: tuple[Block, ...], starts: list[float], clock: NDArray[np.float64], rng: np.random.Generator
) -> NDArray[np.float64]:
    """Synthetic SKEL angles on the frame clock: each exercise starts after its transition line."""
    catalogue = load_catalogue()
    q = np.zeros((clock.size, N_DOFS))
    for block, start in zip(blocks, starts, strict=True):
        ex = catalogue.get(block.key or "squat")  # an unknown exercise still moves (like a squat)
        period = float(ex.reference_rules.get("period_s", 2.0))
        active = block.seconds - TRANSITION_S
        n_reps = max(1, int(active // period) - 1)
        faults = (Fault("shallow", block.shallow_reps, 40.0),) if block.shallow_reps else ()
        track, _ = synthesize(
            ex, n_reps, period_s=period, faults=faults, noise_deg=0.5, rest_s=0.5, seed=int(rng.integers(1 << 30))
        )
        t0 = start + TRANSITION_S
        inside = (clock >= start) & (clock < start + block.seconds)
        local = np.clip(clock[inside] - t0, 0.0, track.t[-1])
        for d in range(N_DOFS):
            q[inside, d] = np.interp(local, track.t, np.nan_to_num(track.q[:, d]))
    return q


def _write_video(path: Path, q: NDArray[np.float64], *, rotate: bool) -> None:
    """A schematic picture per frame: a red band marks the top of the upright image, a bar follows the motion."""
    knee = dof_index("knee_angle_r")
    up_w, up_h = (FRAME_H, FRAME_W) if rotate else (FRAME_W, FRAME_H)

    def frames():  # type: ignore[no-untyped-def]
        for row in q:
            img = np.full((up_h, up_w, 3), 40, np.uint8)
            img[:4] = (220, 30, 30)
            h = int(np.clip(abs(row[knee]) / np.pi, 0, 1) * (up_h - 6))
            img[up_h - h :, up_w // 2 - 3 : up_w // 2 + 3] = 230
            # stored rotated 90° counter-clockwise: a reader turns it 90° clockwise to stand it up
            yield np.ascontiguousarray(np.rot90(img, 1)) if rotate else img

    write_video(path, frames(), FPS, crf=30)
