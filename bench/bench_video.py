"""Video → pose → angles → context on the CPU, against bare MediaPipe inference on the same frames.

Targets: the whole path costs at most 15 % more than MediaPipe alone; real-time factor on a 30 fps
640×360 clip (goal ≥ 1× on 2 cores). The clip is made here from the photo that ships with matplotlib
(a person, upper body), drifting a few pixels per frame so the tracker has to follow it.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

SECONDS = 10.0
FPS = 30.0


def make_clip(path: Path, seconds: float = SECONDS) -> Path:
    import cv2
    import matplotlib

    from workbench.io.video import write_video

    photo = cv2.imread(os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data/sample_data/grace_hopper.jpg"))
    photo = cv2.cvtColor(cv2.resize(photo, (270, 360)), cv2.COLOR_BGR2RGB)
    frames = []
    for k in range(round(seconds * FPS)):
        canvas = np.full((360, 640, 3), 40, np.uint8)
        x = 185 + int(40 * np.sin(2 * np.pi * k / 60))
        canvas[:, x : x + 270] = photo
        frames.append(canvas)
    write_video(path, frames, FPS)
    return path


def bare_mediapipe(path: Path) -> float:
    from workbench.io.video import iter_frames
    from workbench.pose.mediapipe_backend import detect, open_pose

    frames = [f.rgb for f in iter_frames(path, fps=FPS)]
    pose = open_pose()
    start = time.perf_counter()
    for rgb in frames:
        detect(pose, rgb)
    pose.close()
    return time.perf_counter() - start


def whole_path(path: Path) -> float:
    from workbench.io.video import iter_frames
    from workbench.motion.analysis import analyze
    from workbench.pose.landmark_files import landmarks_to_track
    from workbench.pose.mediapipe_backend import track_video_frames

    frames = list(iter_frames(path, fps=FPS))  # decoded outside both timings, as for the baseline
    start = time.perf_counter()
    landmarks, _ = track_video_frames(frames)
    track, _ = landmarks_to_track(landmarks)
    analyze(track, "bicep_curl")
    return time.perf_counter() - start


def decode_time(path: Path) -> float:
    from workbench.io.video import iter_frames

    start = time.perf_counter()
    for _ in iter_frames(path, fps=FPS):
        pass
    return time.perf_counter() - start


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp) / "clip.mp4")
        bare = min(bare_mediapipe(clip) for _ in range(2))
        ours = min(whole_path(clip) for _ in range(2))
        decode = decode_time(clip)
    overhead = ours / bare - 1.0
    realtime = SECONDS / (ours + decode)
    print(f"video: MediaPipe alone {bare:.2f} s for {SECONDS:.0f} s of 640x360 video; whole path (pose + filtering + "
          f"IK + analysis) {ours:.2f} s: overhead {overhead * 100:+.1f} % (target <= 15 %); with decoding "
          f"({decode:.2f} s) {realtime:.2f}x real time (goal >= 1x)")
    return {"bare_s": bare, "whole_s": ours, "overhead": overhead, "realtime_factor": realtime}


if __name__ == "__main__":
    main()
