"""The `biocoach` command as a user runs it: JSON schema, --stream parity, and clear errors for bad input."""

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import squat_track
from workbench.pose.posefile import save_npz

BIOCOACH = [sys.executable, "-m", "workbench.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BIOCOACH, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def squat_file(tmp_path: Path) -> Path:
    return save_npz(squat_track(4, depths_deg=[100, 80, 100, 100], rest_s=0.5, noise_deg=1.0), tmp_path / "s.npz")


def test_analyze_writes_the_documented_schema(squat_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "a.json"
    proc = run("analyze", str(squat_file), "--exercise", "squat", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert doc["schema"] == "biocoach.analysis/1"
    assert {
        "exercise",
        "fps",
        "n_frames",
        "duration_s",
        "provenance",
        "salient_joints",
        "reps",
        "context",
        "feedback",
        "warnings",
    } <= doc.keys()
    assert doc["fps"] == 30.0 and doc["n_frames"] == 15 + 4 * (60 + 15)
    assert len(doc["reps"]) == 4
    bad = doc["reps"][1]["violations"]
    assert {v["dof"] for v in bad} == {"knee_angle_r", "knee_angle_l"}
    v = bad[0]
    assert {"joint", "dof", "type", "value_deg", "target_deg", "bounds_deg", "deviation_deg", "message"} <= v.keys()
    assert v["bounds_deg"] == [90.0, None] and v["deviation_deg"] == pytest.approx(90 - v["value_deg"], abs=0.02)
    prov = doc["provenance"]
    assert prov["input_sha256"] and prov["reference"] == "store:squat@v1" and prov["reference_version"] == 1
    assert prov["threshold_versions"]["knee_depth"] == 1 and prov["code_version"] and prov["backend"] == "pose"
    assert doc["feedback"][0]["t_s"] == doc["reps"][1]["end_s"]
    assert "rep   2" in proc.stdout and "insufficient" in proc.stdout


def test_stream_flag_gives_the_same_reps(squat_file: Path) -> None:
    offline = json.loads(run("analyze", str(squat_file), "-e", "squat", "--json", "-").stdout)
    stream = json.loads(run("analyze", str(squat_file), "-e", "squat", "--json", "-", "--stream").stdout)
    assert offline["reps"] == stream["reps"] and stream["provenance"]["mode"] == "stream"


def test_unknown_exercise_is_a_clear_error(squat_file: Path) -> None:
    proc = run("analyze", str(squat_file), "-e", "burpee")
    assert proc.returncode == 2
    assert "Unknown exercise 'burpee'" in proc.stderr and "squat" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "expected a NumPy .npz archive"),
        (b"not a zip at all", "expected a NumPy .npz archive"),
    ],
)
def test_malformed_file_is_a_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "broken.npz"
    path.write_bytes(content)
    proc = run("analyze", str(path), "-e", "squat")
    assert proc.returncode == 2 and message in proc.stderr and "broken.npz" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_wrong_shape_names_the_key(tmp_path: Path) -> None:
    np.savez(tmp_path / "w.npz", q=np.zeros((10, 23)), fps=30.0)
    proc = run("analyze", str(tmp_path / "w.npz"), "-e", "squat")
    assert proc.returncode == 2 and "key 'q': expected shape (T, 46), got (10, 23)" in proc.stderr


def test_a_broken_video_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00")
    proc = run("analyze", str(path), "-e", "squat")
    assert proc.returncode == 2 and "clip.mp4" in proc.stderr and "Traceback" not in proc.stderr


def test_overlay_needs_a_video(squat_file: Path, tmp_path: Path) -> None:
    proc = run("analyze", str(squat_file), "-e", "squat", "--overlay", str(tmp_path / "o.mp4"))
    assert proc.returncode == 2 and "--overlay: needs a video input" in proc.stderr


def test_nan_angles_and_short_tracks_become_warnings(tmp_path: Path) -> None:
    q = np.full((20, 46), np.nan)
    np.savez(tmp_path / "nan.npz", q=q, fps=30.0)
    doc = json.loads(run("analyze", str(tmp_path / "nan.npz"), "-e", "squat", "--json", "-").stdout)
    assert doc["reps"] == [] and any("no estimate at all" in w for w in doc["warnings"])
    short = squat_track(1).q[:15]
    np.savez(tmp_path / "short.npz", q=short, fps=30.0)
    doc = json.loads(run("analyze", str(tmp_path / "short.npz"), "-e", "squat", "--json", "-").stdout)
    assert doc["reps"] == [] and any("shorter than one cycle" in w for w in doc["warnings"])


def test_demo_runs_on_the_bundled_example() -> None:
    proc = run("demo")
    assert proc.returncode == 0, proc.stderr
    assert "exercise squat: 2 rep(s)" in proc.stdout
    # The live coach speaks about the shallow rep 3 (ends 8.07 s) once the tracker confirms it, naming the joint
    # and the measured angle, and about the wobble of rep 5 (ends 12.93 s) after it.
    coached = proc.stdout.split("3. the same session coached live")[1]
    lines = [line.split("s  [", 1) for line in coached.splitlines() if "s  [" in line]
    corrective = [(float(t), text) for t, text in lines if text.startswith("corrective]")]
    assert [round(t) for t, _ in corrective] == [9, 14]
    assert "knee flexion 74° (target: 90°)" in corrective[0][1] and "Lumbar extension" in corrective[1][1]


def test_help_is_fast() -> None:
    start = time.perf_counter()
    proc = subprocess.run([*BIOCOACH, "--help"], capture_output=True, text=True, timeout=30)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0 and "analyze" in proc.stdout
    assert elapsed < 0.5
    assert (
        "numpy"
        not in subprocess.run(
            [sys.executable, "-c", "import sys, workbench.cli; print(' '.join(sys.modules))"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.split()
    )


def _video(tmp_path: Path) -> Path:
    """Two seconds of a real person (matplotlib's photo, drifting): MediaPipe finds her in every frame."""
    from tests.integration.test_mediapipe_backend import _clip

    return _clip(tmp_path / "person.mp4")


def _run_in_terminal(*args: str) -> tuple[int, str, str]:
    """The command with stderr on a pseudo-terminal (as in an interactive shell), stdout captured."""
    import os
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([*BIOCOACH, *args], stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    out, _ = proc.communicate(timeout=120)
    os.close(master)
    return proc.returncode, out, b"".join(chunks).decode(errors="replace")


@pytest.mark.slow
def test_video_progress_on_a_terminal_only_and_never_with_quiet(tmp_path: Path) -> None:
    video = _video(tmp_path)
    args = ("analyze", str(video), "-e", "bicep_curl", "--no-db", "--json", str(tmp_path / "a.json"))
    rc, _, terminal = _run_in_terminal(*args)
    assert rc == 0
    assert "pose: 60 frames" in terminal and "fps · done in" in terminal  # the final line stays
    rc, _, quiet = _run_in_terminal(*args, "-q")
    assert rc == 0 and "frames ·" not in quiet and "\r[" not in quiet  # (the terminal itself turns \n into \r\n)
    piped = run(*args)  # stderr a pipe (a log file, CI): no progress, no carriage returns
    assert piped.returncode == 0 and "frames ·" not in piped.stderr and "\r" not in piped.stderr


def test_height_option_reaches_c_morph(tmp_path: Path) -> None:
    from tests.unit.test_body_height import person

    track = person(1.64, n=120)
    path = tmp_path / "lm.npz"
    np.savez(path, landmarks_world=track.world, visibility=track.visibility, fps=30.0)
    doc = json.loads(run("analyze", str(path), "-e", "squat", "--no-db", "--height", "1.81", "--json", "-").stdout)
    assert doc["body"]["height_m"] == 1.81 and doc["body"]["height_source"] == "given"
    assert doc["context"]["morph"].startswith("User body: height 1.81 m (given)")
    assert doc["body"]["estimated_height_m"] == pytest.approx(1.64, rel=0.02)
    bad = run("analyze", str(path), "-e", "squat", "--no-db", "--height", "181")
    assert bad.returncode == 2 and "expected the person's height in metres (0.5 to 2.5), got 181.0" in bad.stderr
