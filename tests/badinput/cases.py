"""The standing bad-input cases (issue 15): every input a careful or a hostile user might give, and what the
refusal must name. Each case builds its inputs under a folder and returns the command line; the tests run it
and check the exit code, that no traceback is printed, memory, and that the store is unchanged.

The probe's cases are all here (marked "probe" in their id), with more around each.
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.skeleton import N_DOFS, dof_index

REPO = Path(__file__).resolve().parents[2]
REAL_VIDEO = REPO.parent / "shared" / "data" / "real_videos_dev" / "squat_side_home_man_yuyoujiang.mp4"


@dataclass(frozen=True)
class Case:
    """One bad input: ``argv(folder)`` writes what it needs under ``folder`` and returns the command line."""

    id: str
    argv: Callable[[Path], list[str]]
    says: tuple[str, ...] = ()  # what the one-line error must contain (the file, the field, expected/got words)
    code: int = 2

    def __repr__(self) -> str:
        return self.id


# ---------------------------------------------------------------------------------------------- pose files


def _q(n: int = 60) -> np.ndarray:
    """A plausible pose: knees and hips bending a little (radians)."""
    q = np.zeros((n, N_DOFS))
    phase = np.sin(np.linspace(0, 4 * np.pi, n))
    for name in ("knee_angle_r", "knee_angle_l", "hip_flexion_r", "hip_flexion_l"):
        q[:, dof_index(name)] = 0.5 + 0.4 * phase
    return q


def _npz(**arrays: Any) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        with path.open("wb") as handle:
            np.savez(handle, **arrays)

    return write


def _bytes(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def _zip(members: dict[str, bytes]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)

    return write


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _huge_compressed_q(path: Path) -> None:
    """The probe's 1.8 MB file holding 10 million frames of q (float32 zeros), streamed through deflate."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (10_000_000, N_DOFS)}
    )
    chunk = bytes(1 << 22)
    total = 10_000_000 * N_DOFS * 4
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("q.npy", "w", force_zip64=True) as member:
            member.write(header.getvalue())
            for start in range(0, total, len(chunk)):
                member.write(chunk[: min(len(chunk), total - start)])
        archive.writestr("fps.npy", _npy_bytes(np.array(30.0)))


def _many_frames(path: Path) -> None:
    with path.open("wb") as handle:
        np.savez_compressed(handle, q=np.zeros((300_000, N_DOFS), np.float32).astype(np.float64), fps=np.array(30.0))


def _times(n: int, dt: float = 1 / 30) -> np.ndarray:
    return np.arange(n) * dt


def _t_with(n: int, **changes: float) -> np.ndarray:
    t = _times(n)
    for index, value in changes.items():
        t[int(index.lstrip("i"))] = value
    return t


def _gap(n: int, at: int, seconds: float) -> np.ndarray:
    t = _times(n)
    t[at:] += seconds
    return t


def _resample_bomb() -> np.ndarray:
    """Within the span and gap limits, but a median interval of 1 ms: resampling would make ~5 million frames."""
    return np.concatenate([np.arange(600) * 0.001, 0.6 + np.arange(1, 401) * 9.9])


def _degrees_in_q() -> np.ndarray:
    q = np.zeros((60, N_DOFS))
    q[:, dof_index("knee_angle_r")] = 90.0  # degrees typed where radians belong
    return q


def _zeros(n: int = 60, dtype: Any = np.float64) -> np.ndarray:
    return np.zeros((n, N_DOFS), dtype)


def _fps() -> np.ndarray:
    return np.array(30.0)


# name → (writer, what the error must say)
POSE_FILES: dict[str, tuple[Callable[[Path], None], tuple[str, ...]]] = {
    "no_q": (_npz(fps=_fps()), ("expected key 'q'",)),
    "q_shape": (_npz(q=np.zeros((10, 23)), fps=_fps()), ("key 'q'", "expected shape (T, 46), got (10, 23)")),
    "q_1d": (_npz(q=np.zeros(46), fps=_fps()), ("key 'q'", "expected shape (T, 46)")),
    "q_3d": (_npz(q=np.zeros((5, 46, 1)), fps=_fps()), ("key 'q'", "expected shape (T, 46)")),
    "q_no_frames": (_npz(q=_zeros(0), fps=_fps()), ("key 'q'", "expected at least 2 frames", "got 0")),
    "q_one_frame_fps": (_npz(q=_zeros(1), fps=_fps()), ("expected at least 2 frames", "got 1")),
    "q_one_frame_t": (_npz(q=_zeros(1), t=np.zeros(1)), ("expected at least 2 frames", "got 1")),
    "probe_q_complex": (_npz(q=_zeros(dtype=complex), fps=_fps()), ("key 'q'", "expected floating-point", "complex")),
    "probe_q_int8": (_npz(q=_zeros(dtype=np.int8), fps=_fps()), ("key 'q'", "expected floating-point", "int8")),
    "q_int64": (_npz(q=_zeros(dtype=np.int64), fps=_fps()), ("key 'q'", "int64")),
    "q_bool": (_npz(q=_zeros(dtype=bool), fps=_fps()), ("key 'q'", "bool")),
    "q_text": (_npz(q=np.full((5, N_DOFS), "a"), fps=_fps()), ("key 'q'", "expected floating-point")),
    "q_pickled": (_npz(q=np.array([[None] * N_DOFS] * 5, dtype=object), fps=_fps()), ("key 'q'", "pickled")),
    "probe_q_times_1e6": (_npz(q=_q() * 1e6, fps=_fps()), ("key 'q'", "degrees", "at frame 0", "radians expected")),
    "q_in_degrees": (_npz(q=_degrees_in_q(), fps=_fps()), ("knee_angle_r", "within [-90, 225] degrees", "5156")),
    "q_inf": (_npz(q=np.full((5, N_DOFS), np.inf), fps=_fps()), ("expected finite angles or NaN", "inf at frame 0")),
    "q_minus_inf": (_npz(q=np.full((5, N_DOFS), -np.inf), fps=_fps()), ("expected finite angles", "-inf")),
    "probe_q_10_million_frames": (_huge_compressed_q, ("key 'q'", "values", "limit max_array_elements")),
    "q_300k_frames": (_many_frames, ("key 'q'", "frames: expected at most 216,000", "limit max_frames")),
    "fps_zero": (_npz(q=_q(), fps=np.array(0.0)), ("key 'fps'", "expected frames per second in [1, 1000]")),
    "fps_negative": (_npz(q=_q(), fps=np.array(-30.0)), ("key 'fps'", "got -30")),
    "fps_nan": (_npz(q=_q(), fps=np.array(np.nan)), ("key 'fps'", "got nan")),
    "fps_inf": (_npz(q=_q(), fps=np.array(np.inf)), ("key 'fps'", "got inf")),
    "probe_fps_1e-300": (_npz(q=_q(), fps=np.array(1e-300)), ("key 'fps'", "got 1e-300")),
    "probe_fps_1e300": (_npz(q=_q(), fps=np.array(1e300)), ("key 'fps'", "got 1e+300")),
    "fps_text": (_npz(q=_q(), fps=np.array("30")), ("key 'fps'", "expected a number")),
    "fps_pair": (_npz(q=_q(), fps=np.array([30.0, 30.0])), ("key 'fps'", "expected a number")),
    "fps_complex": (_npz(q=_q(), fps=np.array(30 + 0j)), ("key 'fps'", "expected a number")),
    "fps_and_t": (_npz(q=_q(), fps=_fps(), t=_times(60)), ("exactly one of keys 'fps' or 't', got both",)),
    "neither_fps_nor_t": (_npz(q=_q()), ("exactly one of keys 'fps' or 't', got neither",)),
    "probe_t_text": (_npz(q=_q(), t=np.array([str(i) for i in range(60)])), ("key 't'", "expected floating-point")),
    "probe_t_nan": (_npz(q=_q(), t=_t_with(60, i5=np.nan)), ("key 't'", "expected finite seconds", "frame 5")),
    "probe_t_inf": (_npz(q=_q(), t=_t_with(60, i59=np.inf)), ("key 't'", "expected finite seconds")),
    "probe_t_negative": (_npz(q=_q(), t=_times(60) - 5.0), ("key 't'", "expected seconds from 0 on", "got -5")),
    "t_decreasing": (_npz(q=_q(), t=_times(60)[::-1].copy()), ("key 't'", "strictly increasing")),
    "t_repeated": (_npz(q=_q(), t=_t_with(60, i3=_times(60)[2])), ("key 't'", "strictly increasing")),
    "probe_t_last_1e5": (
        _npz(q=_q(300), t=_t_with(300, i299=1e5)),
        ("key 't'", "seconds spanned", "limit max_duration_s"),
    ),
    "probe_t_gap_1e6": (_npz(q=_q(300), t=_gap(300, 150, 1e6)), ("key 't'", "seconds spanned")),
    "t_gap_60s": (_npz(q=_q(300), t=_gap(300, 150, 60.0)), ("seconds between frames 149 and 150", "max_gap_s")),
    "t_resamples_to_millions": (
        _npz(q=_q(1000), t=_resample_bomb()),
        ("frames after resampling", "limit max_resampled_frames"),
    ),
    "t_wrong_length": (_npz(q=_q(5), t=_times(4)), ("key 't'", "expected shape (5,)")),
    "t_2d": (_npz(q=_q(5), t=_times(5)[:, None]), ("key 't'", "expected shape (5,)")),
    "t_int": (_npz(q=_q(5), t=np.arange(5)), ("key 't'", "expected floating-point", "int64")),
    "confidence_above_1": (_npz(q=_q(), fps=_fps(), confidence=np.full(60, 2.0)), ("confidence", "in [0, 1]")),
    "confidence_nan": (_npz(q=_q(), fps=_fps(), confidence=np.full(60, np.nan)), ("confidence", "in [0, 1]")),
    "confidence_shape": (_npz(q=_q(), fps=_fps(), confidence=np.ones(59)), ("confidence", "expected shape (60,)")),
    "confidence_text": (_npz(q=_q(), fps=_fps(), confidence=np.full(60, "x")), ("key 'confidence'", "floating-point")),
    "observed_shape": (_npz(q=_q(), fps=_fps(), observed=np.ones(40, bool)), ("'observed'", "expected shape (46,)")),
    "observed_text": (_npz(q=_q(), fps=_fps(), observed=np.full(46, "y")), ("'observed'", "booleans")),
    "observed_two": (_npz(q=_q(), fps=_fps(), observed=np.full(46, 2)), ("'observed'", "booleans (or 0/1)")),
    "betas_shape": (_npz(q=_q(), fps=_fps(), betas=np.zeros((60, 9))), ("betas", "expected shape (60, 10)")),
    "betas_complex": (_npz(q=_q(), fps=_fps(), betas=np.zeros((60, 10), complex)), ("key 'betas'", "complex")),
    "dof_confidence_range": (
        _npz(q=_q(), fps=_fps(), dof_confidence=np.full((60, 46), 3.0)),
        ("dof_confidence", "in [0, 1]"),
    ),
    "dof_confidence_shape": (
        _npz(q=_q(), fps=_fps(), dof_confidence=np.ones((60, 45))),
        ("dof_confidence", "expected shape (60, 46)"),
    ),
    "probe_source_5mb": (
        _npz(q=_q(), fps=_fps(), source=np.array("x" * 5_000_000)),
        ("key 'source'", "characters: expected at most 10,000", "max_string_chars"),
    ),
    "source_list": (_npz(q=_q(), fps=_fps(), source=np.array(["a", "b"])), ("key 'source'", "one text string")),
    "source_number": (_npz(q=_q(), fps=_fps(), source=np.array(5)), ("key 'source'", "one text string")),
    "extra_pickled_key": (
        _npz(q=_q(), fps=_fps(), extra=np.array([{"a": 1}], dtype=object)),
        ("key 'extra'", "pickled"),
    ),
    "text_named_npz": (_bytes(b"q,fps\n1,2\n"), ("expected a NumPy .npz archive", "got a text file")),
    "empty_npz": (_bytes(b""), ("expected a NumPy .npz archive", "an empty file")),
    "npy_named_npz": (_bytes(_npy_bytes(np.zeros((5, 46)))), ("a single NumPy .npy array",)),
    "probe_mp4_named_npz": (_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200)), ("got an MP4/MOV video",)),
    "gzip_named_npz": (_bytes(gzip.compress(b"hello")), ("got a gzip file",)),
    "zip_without_arrays": (_zip({"readme.txt": b"hi"}), ("expected key 'q'", "got keys []")),
    "zip_bad_array_header": (_zip({"q.npy": b"\x93NUMPY\x01\x00garbage"}), ("key 'q'", "unreadable header")),
    "zip_pickle_member": (_zip({"q.npy": b"\x80\x04K\x01."}), ("key 'q'", "unreadable header")),
}


def _truncated_npz(path: Path) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, q=_q(), fps=_fps())
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])


POSE_FILES["truncated_npz"] = (_truncated_npz, ("expected a NumPy .npz archive",))


def pose_file(folder: Path, name: str) -> Path:
    path = folder / f"{name}.npz"
    if not path.exists():
        POSE_FILES[name][0](path)
    return path


# ---------------------------------------------------------------------------------------------- other inputs


def good_pose(folder: Path) -> Path:
    """A valid 3-rep squat (options are tested on it)."""
    path = folder / "good.npz"
    if not path.exists():
        from workbench.exercises import load_catalogue
        from workbench.pose.posefile import save_npz
        from workbench.pose.synthetic import synthesize

        track, _ = synthesize(load_catalogue().get("squat"), 3, noise_deg=1.0, seed=0)
        save_npz(track, path)
    return path


def write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def a_file(folder: Path) -> Path:
    return write(folder, "a_file", "just a file\n")


def landmark_npz(folder: Path, name: str, **changes: Any) -> Path:
    path = folder / f"{name}.npz"
    if not path.exists():
        n = 60
        arrays: dict[str, Any] = {
            "landmarks_world": np.zeros((n, 33, 3)),
            "visibility": np.ones((n, 33)),
            "fps": np.array(30.0),
        }
        arrays.update(changes)
        arrays = {k: v for k, v in arrays.items() if v is not None}
        with path.open("wb") as handle:
            np.savez(handle, **arrays)
    return path


def gzip_bomb(folder: Path) -> Path:
    """A landmark CSV that decompresses to 3 MB (refused under the lowered limit of ``small_limits``)."""
    path = folder / "bomb.landmarks.csv.gz"
    if not path.exists():
        path.write_bytes(gzip.compress(b"frame,t_s,detected\n" + b"0" * 3_000_000))
    return path


def config(folder: Path, name: str, text: str) -> Path:
    return write(folder, f"{name}.yaml", text)


def small_limits(folder: Path) -> Path:
    return config(folder, "small_limits", "limits:\n  max_text_bytes: 1000000\n  max_frames: 100\n")


def video(folder: Path, name: str) -> Path:
    """Broken or degenerate videos; the ones made from a real clip skip when ../shared/data is absent."""
    path = folder / f"{name}.mp4"
    if path.exists():
        return path
    if name == "zero_bytes":
        path.write_bytes(b"")
    elif name == "text":
        path.write_text("not a video\n")
    elif name == "png":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    elif name == "truncated":
        path.write_bytes(_real_video_bytes()[:20_000])
    elif name == "one_black_frame":
        _encode(path, [np.zeros((64, 64, 3), np.uint8)])
    elif name == "probe_one_frame_person":
        _encode(path, [_real_frame()])
    return path


def _real_video_bytes() -> bytes:
    import pytest

    if not REAL_VIDEO.is_file():
        pytest.skip("../shared/data/real_videos_dev is not present in this checkout")
    return REAL_VIDEO.read_bytes()


def _real_frame() -> np.ndarray:
    import av

    _real_video_bytes()
    with av.open(str(REAL_VIDEO)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == 30:
                rgb = frame.to_ndarray(format="rgb24")
                return rgb[: rgb.shape[0] // 2 * 2, : rgb.shape[1] // 2 * 2]
    raise AssertionError("the real clip has fewer than 31 frames")


def _encode(path: Path, frames: list[np.ndarray]) -> None:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


# ---------------------------------------------------------------------------------------------- eval inputs


GT_OK = [{"mini_episode_id": "c1", "feedbacks": ["Go deeper"], "feedback_timestamps": [1.0]}]


def _submission(texts: list[Any], times: list[Any], cid: Any = "c1") -> str:
    return json.dumps([{"mini_episode_id": cid, "pred_feedbacks": texts, "pred_feedback_timestamps": times}])


PREDICTIONS: dict[str, tuple[bytes | str, tuple[str, ...]]] = {
    "probe_not_utf8": (b"\xff\xfe[\x00]\x00", ("expected a UTF-8 JSON file",)),
    "latin1": (
        ('[{"mini_episode_id": "c1", "pred_feedbacks": ["Tr\xe8s bien"], "pred_feedback_timestamps": [1.0]}]').encode(
            "latin-1"
        ),
        ("expected a UTF-8 JSON file",),
    ),
    "probe_deeply_nested": ("[" * 200_000 + "]" * 200_000, ("nested",)),
    "nested_100": ("[" * 100 + "]" * 100, ("levels of nesting: expected at most 64", "max_json_depth")),
    "probe_feedback_123": (_submission([123], [1.0]), ("'pred_feedbacks'[0]", "expected text", "a number 123")),
    "probe_feedback_null": (_submission([None], [1.0]), ("'pred_feedbacks'[0]", "expected text", "null")),
    "probe_feedback_object": (_submission([{"a": 1}], [1.0]), ("'pred_feedbacks'[0]", "an object")),
    "feedback_list": (_submission([["a"]], [1.0]), ("'pred_feedbacks'[0]", "a list")),
    "feedback_bool": (_submission([True], [1.0]), ("'pred_feedbacks'[0]", "a boolean")),
    "probe_time_nan": (
        '[{"mini_episode_id": "c1", "pred_feedbacks": ["a"], "pred_feedback_timestamps": [NaN]}]',
        ("expected standard JSON numbers", "NaN"),
    ),
    "probe_time_infinity": (
        '[{"mini_episode_id": "c1", "pred_feedbacks": ["a"], "pred_feedback_timestamps": [Infinity]}]',
        ("Infinity",),
    ),
    "time_minus_infinity": (
        '[{"mini_episode_id": "c1", "pred_feedbacks": ["a"], "pred_feedback_timestamps": [-Infinity]}]',
        ("-Infinity",),
    ),
    "time_1e999": (
        '[{"mini_episode_id": "c1", "pred_feedbacks": ["a"], "pred_feedback_timestamps": [1e999]}]',
        ("beyond a float's range",),
    ),
    "time_negative": (
        _submission(["a"], [-3.0]),
        ("'pred_feedback_timestamps'[0]", "expected seconds in [0,", "got -3"),
    ),
    "time_huge": (_submission(["a"], [1e12]), ("'pred_feedback_timestamps'[0]", "max_duration_s")),
    "time_text": (_submission(["a"], ["1.0"]), ("'pred_feedback_timestamps'[0]", "expected seconds (a number)")),
    "time_null": (_submission(["a"], [None]), ("expected seconds (a number)", "null")),
    "time_bool": (_submission(["a"], [True]), ("expected seconds (a number)", "true")),
    "lengths_differ": (_submission(["a", "b"], [1.0]), ("expected as many pred_feedback_timestamps",)),
    "missing_id": ('[{"pred_feedbacks": [], "pred_feedback_timestamps": []}]', ("expected field 'mini_episode_id'",)),
    "id_number": (_submission(["a"], [1.0], cid=5), ("'mini_episode_id'", "expected str, got int")),
    "duplicate_id": (json.dumps([json.loads(_submission([], []))[0]] * 2), ("appears twice",)),
    "feedbacks_text": (_submission("abc", [1.0]), ("'pred_feedbacks'", "expected list, got str")),  # type: ignore[arg-type]
    "item_number": ("[1, 2]", ("item 0", "expected an object, got int")),
    "top_level_number": ("5", ("expected a submission list", "got int")),
    "top_level_text": ('"hello"', ("expected a submission list", "got str")),
    "top_level_null": ("null", ("expected a submission list", "got NoneType")),
    "empty_file": ("", ("expected JSON, got a parse error",)),
    "whitespace": ("   \n", ("expected JSON, got a parse error",)),
    "truncated": ('[{"mini_episode_id": "c1", "pred_feed', ("expected JSON, got a parse error",)),
    "analysis_text_123": (json.dumps({"feedback": [{"t_s": 1.0, "text": 123}]}), ("feedback[0]", "'text': string")),
    "analysis_t_nan": ('{"feedback": [{"t_s": NaN, "text": "a"}]}', ("NaN",)),
    "analysis_t_negative": (json.dumps({"feedback": [{"t_s": -1, "text": "a"}]}), ("feedback[0].t_s", "got -1")),
    "analysis_feedback_dict": (json.dumps({"feedback": {"a": 1}}), ("field 'feedback'", "expected a list")),
    "analysis_in_list_without_id": (json.dumps([{"feedback": []}]), ("item 0", "'mini_episode_id' or 'clip_id'")),
    "text_10001_chars": (
        _submission(["x" * 10_001], [1.0]),
        ("characters: expected at most 10,000", "max_string_chars"),
    ),
}

GROUND_TRUTHS: dict[str, tuple[bytes | str, tuple[str, ...]]] = {
    "gt_not_utf8": (b"\xff\xfe\x00", ("expected a UTF-8 JSON file",)),
    "gt_feedback_123": (
        json.dumps([{"mini_episode_id": "c1", "feedbacks": [123], "feedback_timestamps": [1.0]}]),
        ("'feedbacks'[0]", "expected text"),
    ),
    "gt_time_nan": ('[{"mini_episode_id": "c1", "feedbacks": ["a"], "feedback_timestamps": [NaN]}]', ("NaN",)),
    "gt_time_negative": (
        json.dumps([{"mini_episode_id": "c1", "feedbacks": ["a"], "feedback_timestamps": [-1]}]),
        ("'feedback_timestamps'[0]", "got -1"),
    ),
    "gt_not_a_list": (json.dumps({"a": 1}), ("expected a list of {mini_episode_id",)),
    "gt_deeply_nested": ("[" * 100 + "]" * 100, ("max_json_depth",)),
}


def prediction(folder: Path, name: str) -> Path:
    data = PREDICTIONS[name][0] if name in PREDICTIONS else GROUND_TRUTHS[name][0]
    return write(folder / "eval", f"{name}.json", data)


def ground_truth(folder: Path) -> Path:
    return write(folder / "eval", "gt.json", json.dumps(GT_OK))


def good_prediction(folder: Path) -> Path:
    return write(folder / "eval", "good_pred.json", _submission(["Go deeper"], [1.0]))


# ---------------------------------------------------------------------------------------------- rule imports


def rule_dir(
    folder: Path,
    name: str,
    edit: Callable[[str], str | bytes] | None = None,
    traj: Callable[[Path], object] | None = None,
) -> Path:
    """A references-layout folder holding the squat (from references/), its rule file changed by ``edit`` and
    its trajectories by ``traj``."""
    out = folder / "imports" / name
    if out.exists():
        return out
    (out / "exercises").mkdir(parents=True)
    (out / "trajectories").mkdir()
    text: str | bytes = (REPO / "references" / "exercises" / "squat.yaml").read_text(encoding="utf-8")
    if edit is not None:
        text = edit(text)  # type: ignore[arg-type]
    (out / "exercises" / "squat.yaml").write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    for suffix in ("", "_sd"):
        src = REPO / "references" / "trajectories" / f"squat{suffix}.npy"
        (out / "trajectories" / f"squat{suffix}.npy").write_bytes(src.read_bytes())
    if traj is not None:
        traj(out / "trajectories")
    return out


def replace_first(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text, f"{old!r} not in squat.yaml"
        return text.replace(old, new, 1)

    return edit


def set_line(prefix: str, new: str) -> Callable[[str], str]:
    """Replace the first line starting (after indentation) with ``prefix``."""

    def edit(text: str) -> str:
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if line.strip().startswith(prefix):
                indent = line[: len(line) - len(line.lstrip())]
                lines[i] = indent + new
                return "\n".join(lines) + "\n"
        raise AssertionError(f"no line starting with {prefix!r} in squat.yaml")

    return edit


def whole(text: str | bytes) -> Callable[[str], str | bytes]:
    return lambda _: text


ALIAS_BOMB = "\n".join(
    ["aliases:", '- &a ["x","x","x","x","x","x","x","x","x","x"]']
    + [f"- &{b} [{','.join([f'*{a}'] * 10)}]" for a, b in zip("abcdefg", "bcdefgh", strict=True)]
)


def alias_bomb(text: str) -> str:
    lines = [line for line in text.splitlines() if not line.startswith("aliases:")]
    return "\n".join([*lines, ALIAS_BOMB]) + "\n"


def traj_array(name: str, array: np.ndarray) -> Callable[[Path], object]:
    return lambda folder: (folder / name).write_bytes(_npy_bytes(array))


def traj_degrees(folder: Path) -> None:
    mean = np.load(folder / "squat.npy")
    (folder / "squat.npy").write_bytes(_npy_bytes(np.degrees(mean)))


def traj_nan(folder: Path) -> None:
    mean = np.load(folder / "squat.npy")
    mean[5, 3] = np.nan
    (folder / "squat.npy").write_bytes(_npy_bytes(mean))


IMPORTS: dict[str, tuple[Callable[[Path], Path], tuple[str, ...]]] = {
    "probe_bounds_abc": (
        lambda d: rule_dir(d, "bounds_abc", replace_first("bounds_deg: [90, null]", "bounds_deg: [abc, null]")),
        ("squat.yaml", "bounds_deg", "expected [low, high] as numbers", "'abc'"),
    ),
    "probe_max_std_five": (
        lambda d: rule_dir(d, "std_five", set_line("max_std_deg:", "max_std_deg: five")),
        ("squat.yaml", "max_std_deg: expected a number, got 'five'"),
    ),
    "bounds_three": (
        lambda d: rule_dir(d, "bounds_three", replace_first("bounds_deg: [90, null]", "bounds_deg: [1, 2, 3]")),
        ("bounds_deg", "expected [low, high]"),
    ),
    "bounds_text": (
        lambda d: rule_dir(d, "bounds_text", replace_first("bounds_deg: [90, null]", "bounds_deg: x")),
        ("bounds_deg", "expected [low, high]"),
    ),
    "bounds_nan": (
        lambda d: rule_dir(d, "bounds_nan", replace_first("bounds_deg: [90, null]", "bounds_deg: [.nan, null]")),
        ("bounds_deg", "as numbers"),
    ),
    "bounds_inf": (
        lambda d: rule_dir(d, "bounds_inf", replace_first("bounds_deg: [90, null]", "bounds_deg: [.inf, null]")),
        ("bounds_deg", "as numbers"),
    ),
    "bounds_implausible": (
        lambda d: rule_dir(
            d, "bounds_1e9", replace_first("bounds_deg: [90, null]", "bounds_deg: [1000000000.0, null]")
        ),
        ("bounds_deg: expected degrees within",),
    ),
    "max_std_negative": (
        lambda d: rule_dir(d, "std_neg", set_line("max_std_deg:", "max_std_deg: -5")),
        ("max_std_deg", "got -5"),
    ),
    "max_std_nan": (
        lambda d: rule_dir(d, "std_nan", set_line("max_std_deg:", "max_std_deg: .nan")),
        ("max_std_deg: expected a number",),
    ),
    "max_std_list": (
        lambda d: rule_dir(d, "std_list", set_line("max_std_deg:", "max_std_deg: [1]")),
        ("max_std_deg: expected a number",),
    ),
    "dof_typo": (
        lambda d: rule_dir(d, "dof_typo", replace_first("dof: knee_angle_r", "dof: knee_angel_r")),
        ("knee_angel_r",),
    ),
    "unknown_kind": (lambda d: rule_dir(d, "kind", replace_first("kind: dynamic", "kind: dynamo")), ("dynamo",)),
    "key_mismatch": (lambda d: rule_dir(d, "key", set_line("key:", "key: squatt")), ("key: expected the file name",)),
    "unknown_top_field": (
        lambda d: rule_dir(d, "top_field", lambda t: t + "colour: blue\n"),
        ("colour", "unknown field"),
    ),
    "unknown_constraint_field": (
        lambda d: rule_dir(
            d, "c_field", replace_first("bounds_deg: [90, null]", "bounds_deg: [90, null]\n    bound_deg: 3")
        ),
        ("bound_deg", "unknown field"),
    ),
    "version_negative": (
        lambda d: rule_dir(d, "ver_neg", replace_first("- id: knee_depth", "- id: knee_depth\n    version: -1")),
        ("version: expected a version number",),
    ),
    "version_text": (
        lambda d: rule_dir(d, "ver_text", replace_first("- id: knee_depth", "- id: knee_depth\n    version: two")),
        ("version: expected a version number",),
    ),
    "store_list": (
        lambda d: rule_dir(d, "store_list", lambda t: t + "store: [1]\n"),
        ("store: expected a mapping of versions",),
    ),
    "top_level_list": (lambda d: rule_dir(d, "top_list", whole("- 1\n- 2\n")), ("expected a mapping at the top",)),
    "top_level_scalar": (lambda d: rule_dir(d, "top_scalar", whole("42\n")), ("expected a mapping at the top level",)),
    "empty_yaml": (lambda d: rule_dir(d, "empty", whole("")), ("expected a mapping at the top level",)),
    "yaml_syntax": (
        lambda d: rule_dir(d, "syntax", lambda t: t + "bad: [unclosed\n"),
        ("expected a readable YAML rule file",),
    ),
    "yaml_not_utf8": (
        lambda d: rule_dir(d, "latin1", whole(b"key: squat\nname: Tr\xe8s\n")),
        ("expected a readable YAML rule file",),
    ),
    "yaml_alias_bomb": (lambda d: rule_dir(d, "alias_bomb", alias_bomb), ("values once its YAML aliases",)),
    "yaml_deeply_nested": (
        lambda d: rule_dir(d, "deep", lambda t: t + "sources_x: " + "[" * 5000 + "]" * 5000 + "\n"),
        ("squat.yaml",),
    ),
    "yaml_huge": (
        lambda d: rule_dir(d, "huge", lambda t: t + "#" + "x" * 1_100_000 + "\n"),
        ("expected a rule file of at most 1,000,000 bytes",),
    ),
    "period_text": (
        lambda d: rule_dir(d, "period_text", set_line("period_s:", "period_s: [a, b]")),
        ("cycle.period_s", "as numbers"),
    ),
    "period_reversed": (
        lambda d: rule_dir(d, "period_rev", set_line("period_s:", "period_s: [5.0, 1.0]")),
        ("cycle.period_s: expected [min, max]",),
    ),
    "cycle_text": (lambda d: rule_dir(d, "cycle_text", set_line("cycle:", "cycle: fast\nxcycle:")), ("squat.yaml",)),
    "constraints_text": (
        lambda d: rule_dir(d, "constraints_text", set_line("constraints:", "constraints: many\nx:")),
        ("squat.yaml",),
    ),
    "traj_wrong_shape": (
        lambda d: rule_dir(d, "traj_shape", traj=traj_array("squat.npy", np.zeros((45, 101)))),
        ("squat.npy", "expected (46, N_ref)"),
    ),
    "traj_degrees": (lambda d: rule_dir(d, "traj_deg", traj=traj_degrees), ("degrees stored instead of radians",)),
    "traj_nan": (lambda d: rule_dir(d, "traj_nan", traj=traj_nan), ("expected finite radians, got NaN",)),
    "traj_int": (
        lambda d: rule_dir(d, "traj_int", traj=traj_array("squat.npy", np.zeros((46, 101), int))),
        ("squat.npy", "expected floating-point radians"),
    ),
    "traj_pickled": (
        lambda d: rule_dir(d, "traj_obj", traj=traj_array("squat.npy", np.array([{"a": 1}]))),
        ("squat.npy", "unreadable"),
    ),
    "traj_not_npy": (
        lambda d: rule_dir(d, "traj_text", traj=lambda f: (f / "squat.npy").write_text("hello")),
        ("squat.npy", "expected a NumPy .npy array"),
    ),
    "traj_sd_missing": (
        lambda d: rule_dir(d, "sd_missing", traj=lambda f: (f / "squat_sd.npy").unlink()),
        ("squat_sd.npy", "expected the envelope SD"),
    ),
    "traj_stray": (
        lambda d: rule_dir(d, "stray", traj=traj_array("lunge.npy", np.zeros((46, 101)))),
        ("lunge.npy", "expected a trajectory of an exercise with a rule file"),
    ),
}


# ---------------------------------------------------------------------------------------------- the cases


def _analyze(name: str) -> Callable[[Path], list[str]]:
    return lambda d: ["analyze", str(pose_file(d, name)), "-e", "squat", "-q"]


def _coach(name: str) -> Callable[[Path], list[str]]:
    return lambda d: ["coach", str(pose_file(d, name)), "-e", "squat", "-q"]


def _eval_pred(name: str) -> Callable[[Path], list[str]]:
    return lambda d: ["eval", str(prediction(d, name)), "--gt", str(ground_truth(d)), "--no-text", "-q"]


def _eval_gt(name: str) -> Callable[[Path], list[str]]:
    return lambda d: ["eval", str(good_prediction(d)), "--gt", str(prediction(d, name)), "--no-text", "-q"]


def _import(name: str) -> Callable[[Path], list[str]]:
    return lambda d: ["db", "import", str(IMPORTS[name][0](d)), "--author", "probe", "--note", "bad input"]


def _good(*args: str) -> Callable[[Path], list[str]]:
    """``analyze`` of the valid squat with extra options (``{tmp}`` / ``{file}`` are filled in)."""
    return lambda d: ["analyze", str(good_pose(d)), "-e", "squat", "-q", *_fill(args, d)]


def _cmd(*args: str) -> Callable[[Path], list[str]]:
    """Any command line; ``{tmp}``, ``{file}``, ``{good}``, ``{gt}``, ``{pred}`` and ``{imp}`` are filled in."""
    return lambda d: _fill(args, d)


def _fill(args: tuple[str, ...], d: Path) -> list[str]:
    values = {
        "{tmp}": lambda: str(d),
        "{file}": lambda: str(a_file(d)),
        "{good}": lambda: str(good_pose(d)),
        "{gt}": lambda: str(ground_truth(d)),
        "{pred}": lambda: str(good_prediction(d)),
        "{imp}": lambda: str(rule_dir(d, "valid")),
    }
    out = []
    for a in args:
        for key, value in values.items():
            if key in a:
                a = a.replace(key, value())
        out.append(a)
    return out


def build_cases() -> list[Case]:
    cases: list[Case] = []

    def add(id: str, argv: Callable[[Path], list[str]], *says: str, code: int = 2) -> None:
        cases.append(Case(id, argv, tuple(says), code))

    # analyze: every pose file
    for name, (_, says) in POSE_FILES.items():
        add(f"analyze-{name}", _analyze(name), f"{name}.npz", *says)
    # coach: every other pose file (the same reader; the coach path around it differs)
    for name, (_, says) in list(POSE_FILES.items())[::2]:
        add(f"coach-{name}", _coach(name), f"{name}.npz", *says)
    # export-mot: a few
    for name in ("q_shape", "probe_q_times_1e6", "probe_t_gap_1e6", "probe_fps_1e-300", "text_named_npz"):
        add(
            f"export-mot-{name}",
            lambda d, n=name: ["export-mot", str(pose_file(d, n)), str(d / "o.mot")],
            *POSE_FILES[name][1],
        )

    # analyze: inputs that are no pose file
    add("analyze-missing-file", _cmd("analyze", "{tmp}/nothing.npz", "-e", "squat"), "nothing.npz", "no such file")
    add(
        "analyze-folder-as-pose",
        _cmd("analyze", "{tmp}", "-e", "squat", "-b", "pose"),
        "expected a regular file",
        "a folder",
    )
    add(
        "probe-analyze-dev-zero",
        _cmd("analyze", "/dev/zero", "-e", "squat", "-b", "pose"),
        "/dev/zero",
        "a character device",
    )
    add("analyze-dev-null", _cmd("analyze", "/dev/null", "-e", "squat"), "/dev/null", "a character device")
    add(
        "analyze-csv-garbage",
        lambda d: ["analyze", str(write(d, "garbage.csv", "hello\n1,2\n")), "-e", "squat"],
        "garbage.csv",
        "expected column",
    )
    add(
        "analyze-csv-not-utf8",
        lambda d: ["analyze", str(write(d, "latin.csv", b"frame,t_s\n\xff\xfe\n")), "-e", "squat"],
        "latin.csv",
    )
    add(
        "analyze-csv-gz-bomb",
        lambda d: ["analyze", str(gzip_bomb(d)), "-e", "squat", "--config", str(small_limits(d))],
        "bytes once decompressed",
        "max_text_bytes",
    )
    add(
        "analyze-csv-too-big",
        lambda d: [
            "analyze",
            str(write(d, "big.csv", "x" * 1_100_000)),
            "-e",
            "squat",
            "--config",
            str(small_limits(d)),
        ],
        "bytes of text",
        "max_text_bytes",
    )
    add(
        "analyze-landmarks-fps-1e-300",
        lambda d: ["analyze", str(landmark_npz(d, "lm_fps", fps=np.array(1e-300))), "-e", "squat"],
        "lm_fps.npz",
        "key 'fps'",
    )
    add(
        "analyze-landmarks-gap-1e5",
        lambda d: ["analyze", str(landmark_npz(d, "lm_gap", fps=None, t=_t_with(60, i59=1e5))), "-e", "squat"],
        "lm_gap.npz",
        "seconds spanned",
    )
    add(
        "analyze-landmarks-pickled",
        lambda d: [
            "analyze",
            str(landmark_npz(d, "lm_obj", visibility=np.array([{"a": 1}], dtype=object))),
            "-e",
            "squat",
        ],
        "key 'visibility'",
        "pickled",
    )
    add(
        "analyze-landmarks-too-many-frames",
        lambda d: [
            "analyze",
            str(landmark_npz(d, "lm_long", landmarks_world=np.zeros((150, 33, 3)), visibility=np.ones((150, 33)))),
            "-e",
            "squat",
            "--config",
            str(small_limits(d)),
        ],
        "key 'landmarks_world'",
        "limit max_frames",
    )
    add(
        "analyze-landmarks-nan-t",
        lambda d: ["analyze", str(landmark_npz(d, "lm_nan", fps=None, t=_t_with(60, i3=np.nan))), "-e", "squat"],
        "lm_nan.npz",
        "expected finite seconds",
    )
    add(
        "analyze-hsmr-pickled",
        lambda d: ["analyze", str(hsmr_file(d, "hsmr_obj", poses=np.array([{"a": 1}]))), "-e", "squat", "-b", "hsmr"],
        "key 'poses'",
        "pickled",
    )
    add(
        "analyze-hsmr-frame-1e9",
        lambda d: [
            "analyze",
            str(
                hsmr_file(
                    d,
                    "hsmr_frames",
                    poses=np.zeros((2, 46)),
                    betas=np.zeros((2, 10)),
                    frame=np.array([0, 1_000_000_000]),
                )
            ),
            "-e",
            "squat",
            "-b",
            "hsmr",
        ],
        "key 'frame'",
        "limit max_frames",
    )
    for name in ("zero_bytes", "text", "png", "truncated", "one_black_frame", "probe_one_frame_person"):
        add(
            f"analyze-video-{name}", lambda d, n=name: ["analyze", str(video(d, n)), "-e", "squat", "-q"], f"{name}.mp4"
        )
    add(
        "probe-analyze-video-as-pose",
        lambda d: ["analyze", str(video(d, "text")), "-e", "squat", "-b", "pose"],
        "expected a NumPy .npz archive",
        "a text file",
    )

    # analyze: options
    for value in ("-1", "1.5", "nan", "inf", "abc"):
        add(
            f"probe-analyze-min-confidence-{value}",
            _good("--min-confidence", value),
            "--min-confidence",
            "expected a fraction",
        )
    for value in ("-70", "0", "nan", "inf", "1e308", "seventy"):
        add(f"probe-analyze-mass-{value}", _good("--mass", value), "--mass", "expected a mass in kg")
    for value in ("-1", "nan", "0", "25"):
        add(f"analyze-height-{value}", _good("--height", value), "height")
    add(
        "probe-analyze-body-model-missing",
        _good("--body-model", "{tmp}/smpl.npz"),
        "--body-model",
        "smpl.npz",
        "no such file",
    )
    add("analyze-body-model-folder", _good("--body-model", "{tmp}"), "--body-model", "a folder")
    for opt in ("--json", "--save-pose", "--overlay"):
        add(f"probe-analyze{opt}-missing-folder", _good(opt, "{tmp}/no/out"), opt, "expected an existing folder")
        add(f"probe-analyze{opt}-onto-folder", _good(opt, "{tmp}"), opt, "expected a file to write, got a folder")
        add(f"analyze{opt}-under-a-file", _good(opt, "{file}/out"), opt, "to be a folder, got a file")
    add("analyze-overlay-of-a-pose-file", _good("--overlay", "{tmp}/o.mp4"), "--overlay: needs a video input")
    add("analyze-unknown-exercise", lambda d: ["analyze", str(good_pose(d)), "-e", "squatz"], "squatz")
    add("analyze-salient-typo", _good("--salient", "femur_r,knee"), "--salient", "knee")
    add("analyze-backend-unknown", _good("--backend", "openpose"), "--backend", "invalid choice")
    add("analyze-missing-exercise", lambda d: ["analyze", str(good_pose(d))], "--exercise")
    add("probe-analyze-db-typo", _good("--db", "{tmp}/typo.duckdb"), "typo.duckdb", "expected an existing store")
    add("probe-analyze-db-missing-folder", _good("--db", "{tmp}/nofolder/s.duckdb"), "no folder")
    add("analyze-db-folder", _good("--db", "{tmp}"), "--db", "a folder")
    add("analyze-db-create-under-a-file", _good("--db", "{file}/s.duckdb", "--create"), "--db", "got a file")
    add("analyze-config-missing", _good("--config", "{tmp}/nothing.yaml"), "nothing.yaml", "not found")
    add(
        "analyze-config-bad-yaml",
        lambda d: [*_good()(d), "--config", str(config(d, "bad", "a: [\n"))],
        "not valid YAML",
    )
    add(
        "analyze-config-unknown-key",
        lambda d: [*_good()(d), "--config", str(config(d, "unk", "colour: 1\n"))],
        "unknown setting",
    )
    add(
        "analyze-config-limits-text",
        lambda d: [*_good()(d), "--config", str(config(d, "lt", "limits: lots\n"))],
        "limits: expected a mapping",
    )
    add(
        "analyze-config-limit-unknown",
        lambda d: [*_good()(d), "--config", str(config(d, "lu", "limits:\n  x: 1\n"))],
        "unknown limit",
    )
    add(
        "analyze-config-limit-negative",
        lambda d: [*_good()(d), "--config", str(config(d, "ln", "limits:\n  max_frames: -1\n"))],
        "limits.max_frames",
        "positive",
    )
    add(
        "analyze-config-limit-text",
        lambda d: [*_good()(d), "--config", str(config(d, "lx", "limits:\n  max_frames: many\n"))],
        "limits.max_frames",
        "expected a finite number",
    )
    add(
        "analyze-config-limit-fps-order",
        lambda d: [*_good()(d), "--config", str(config(d, "lf", "limits:\n  min_fps: 2000\n"))],
        "limits.min_fps",
    )
    add(
        "analyze-config-limit-refuses",
        lambda d: [*_good()(d), "--config", str(small_limits(d))],
        "good.npz",
        "frames: expected at most 100",
        "limit max_frames",
    )

    # coach: options
    add("coach-model-unknown", lambda d: ["coach", str(good_pose(d)), "-e", "squat", "-m", "gpt"], "--model")
    add(
        "coach-min-confidence-2",
        lambda d: ["coach", str(good_pose(d)), "-e", "squat", "--min-confidence", "2"],
        "--min-confidence",
    )
    add("coach-seed-negative", lambda d: ["coach", str(good_pose(d)), "-e", "squat", "--seed", "-1"], "--seed")
    add(
        "coach-json-missing-folder",
        lambda d: ["coach", str(good_pose(d)), "-e", "squat", "--json", str(d / "no" / "c.json")],
        "--json",
        "expected an existing folder",
    )
    add(
        "coach-json-onto-folder",
        lambda d: ["coach", str(good_pose(d)), "-e", "squat", "--json", str(d)],
        "--json",
        "got a folder",
    )
    add(
        "coach-db-typo",
        lambda d: ["coach", str(good_pose(d)), "-e", "squat", "--db", str(d / "typo.duckdb")],
        "typo.duckdb",
        "expected an existing store",
    )
    add("coach-unknown-exercise", lambda d: ["coach", str(good_pose(d)), "-e", "squatz"], "squatz")
    add("coach-missing-input", _cmd("coach", "{tmp}/none.npz", "-e", "squat"), "none.npz", "no such file")
    add("coach-dev-zero", _cmd("coach", "/dev/zero", "-e", "squat", "-b", "pose"), "a character device")

    # eval
    for name, (_, says) in PREDICTIONS.items():
        add(f"eval-{name}", _eval_pred(name), f"{name}.json", *says)
    for name, (_, says) in GROUND_TRUTHS.items():
        add(f"eval-{name}", _eval_gt(name), f"{name}.json", *says)
    add(
        "probe-eval-npz-as-predictions",
        lambda d: ["eval", str(good_pose(d)), "--gt", str(ground_truth(d)), "--no-text"],
        "good.npz",
        "expected a UTF-8 JSON file",
        "a zip archive",
    )
    add(
        "eval-video-as-predictions",
        lambda d: ["eval", str(video(d, "png")), "--gt", str(ground_truth(d))],
        "png.mp4",
        "expected a UTF-8 JSON file",
    )
    add("eval-predictions-missing", _cmd("eval", "{tmp}/none.json", "--gt", "{gt}"), "none.json", "not found")
    add(
        "eval-predictions-empty-folder",
        lambda d: ["eval", str(_folder(d, "empty_preds")), "--gt", str(ground_truth(d))],
        "expected analysis JSON files",
    )
    add("eval-predictions-dev-zero", _cmd("eval", "/dev/zero", "--gt", "{gt}"), "a character device")
    add("eval-gt-missing", _cmd("eval", "{pred}", "--gt", "{tmp}/none.json", "--no-text"), "none.json")
    add("eval-gt-not-configured", _cmd("eval", "{pred}", "--no-text"), "qevd_dir is not configured")
    add(
        "probe-eval-judge-limit-negative",
        _cmd("eval", "{pred}", "--gt", "{gt}", "--judge-limit", "-3"),
        "--judge-limit",
        "≥ 0",
    )
    add("eval-judge-limit-text", _cmd("eval", "{pred}", "--gt", "{gt}", "--judge-limit", "all"), "--judge-limit")
    add("eval-judge-unknown", _cmd("eval", "{pred}", "--gt", "{gt}", "--judge", "gpt"), "--judge")
    add("eval-split-unknown", _cmd("eval", "{pred}", "--gt", "{gt}", "--split", "dev"), "--split")
    for opt in ("--json", "--html"):
        add(
            f"eval{opt}-missing-folder",
            _cmd("eval", "{pred}", "--gt", "{gt}", opt, "{tmp}/no/x"),
            opt,
            "expected an existing folder",
        )
        add(f"eval{opt}-onto-folder", _cmd("eval", "{pred}", "--gt", "{gt}", opt, "{tmp}"), opt, "got a folder")
    add(
        "eval-db-typo",
        _cmd("eval", "{pred}", "--gt", "{gt}", "--db", "{tmp}/typo.duckdb"),
        "typo.duckdb",
        "expected an existing store",
    )
    add("eval-db-folder", _cmd("eval", "{pred}", "--gt", "{gt}", "--db", "{tmp}"), "a folder")
    add(
        "eval-config-bad-limits",
        lambda d: [
            "eval",
            str(good_prediction(d)),
            "--gt",
            str(ground_truth(d)),
            "--config",
            str(config(d, "ln2", "limits:\n  max_json_depth: 0\n")),
        ],
        "limits.max_json_depth",
    )
    add("evaluations-db-typo", _cmd("evaluations", "--db", "{tmp}/typo.duckdb"), "typo.duckdb")
    add("evaluations-show-text", _cmd("evaluations", "--show", "one"), "--show")
    add("evaluations-show-unknown", _cmd("evaluations", "--show", "987654"), "987654")
    add("evaluations-compare-one", _cmd("evaluations", "--compare", "1"), "--compare")

    # db
    for name, (_, says) in IMPORTS.items():
        add(f"db-import-{name}", _import(name), *says)
    add("db-import-missing-folder", _cmd("db", "import", "{tmp}/none", "--author", "a"), "none", "expected exercise")
    add(
        "db-import-empty-folder",
        lambda d: ["db", "import", str(_folder(d, "empty_import"))],
        "expected exercise rule files",
    )
    add("db-import-a-file", _cmd("db", "import", "{file}"), "a_file")
    add("db-import-empty-author", _cmd("db", "import", "{imp}", "--author", " "), "author: expected who")
    add(
        "probe-db-export-onto-a-file",
        _cmd("db", "export", "{file}"),
        "db export",
        "a_file",
        "expected a folder to write into, got a file",
    )
    add("db-export-under-a-file", _cmd("db", "export", "{file}/sub"), "db export", "to be a folder")
    add("db-export-db-typo", _cmd("db", "export", "{tmp}/x", "--db", "{tmp}/typo.duckdb"), "typo.duckdb")
    add("db-history-unknown", _cmd("db", "history", "squatz"), "squatz")
    add("db-history-db-typo", _cmd("db", "history", "squat", "--db", "{tmp}/typo.duckdb"), "typo.duckdb")
    add(
        "probe-db-status-db-typo",
        _cmd("db", "status", "--db", "{tmp}/typo.duckdb"),
        "typo.duckdb",
        "expected an existing store",
    )
    add(
        "probe-db-old-position-db-typo",
        _cmd("db", "--db", "{tmp}/typo.duckdb", "status"),
        "typo.duckdb",
        "expected an existing store",
    )
    add("db-status-db-folder", _cmd("db", "--db", "{tmp}", "status"), "a folder")
    add("db-import-db-typo", _cmd("db", "import", "{imp}", "--db", "{tmp}/typo.duckdb"), "typo.duckdb")
    add("db-init-under-a-file", _cmd("db", "init", "--db", "{file}/s.duckdb"), "a_file", "got a file")
    add("db-init-db-folder", _cmd("db", "init", "--db", "{tmp}"), "a folder")
    add("db-no-subcommand", _cmd("db"), "DB_COMMAND")
    add("db-unknown-subcommand", _cmd("db", "frobnicate"), "invalid choice")
    add("db-history-missing-exercise", _cmd("db", "history"), "exercise")

    # batch (command-line level: a bad clip inside a good run is a failed item, by design)
    run = ("batch", "run")
    add("batch-source-missing", _cmd(*run, "{tmp}/none", "-e", "squat"), "none", "expected a folder, a glob")
    add("batch-no-source", _cmd(*run, "-e", "squat"), "expected exactly one of SOURCE")
    add("batch-source-and-where", _cmd(*run, "{good}", "--where", "true", "-e", "squat"), "got 2")
    add("batch-stages-unknown", _cmd(*run, "{good}", "-e", "squat", "--stages", "pose,render"), "--stages")
    add("batch-stages-empty", _cmd(*run, "{good}", "-e", "squat", "--stages", ","), "--stages")
    for opt, value in (
        ("--workers", "-1"),
        ("--workers", "many"),
        ("--max-attempts", "0"),
        ("--gpus", "-1"),
        ("--gpus", "nan"),
        ("--shard-rows", "0"),
        ("--max-in-flight", "0"),
        ("--delay", "-1"),
    ):
        add(f"batch{opt}-{value}", _cmd(*run, "{good}", "-e", "squat", opt, value), opt)
    add("batch-where-two-statements", _cmd(*run, "--where", "true; DROP TABLE clips", "-e", "squat"), "';'")
    add("batch-where-bad-sql", _cmd(*run, "--where", "((( nonsense", "-e", "squat"), "--where")
    add(
        "batch-parquet-onto-a-file",
        _cmd(*run, "{good}", "-e", "squat", "--parquet", "{file}"),
        "--parquet",
        "got a file",
    )
    add("batch-db-typo", _cmd(*run, "{good}", "-e", "squat", "--db", "{tmp}/typo.duckdb"), "typo.duckdb")
    add("batch-db-folder", _cmd(*run, "{good}", "-e", "squat", "--db", "{tmp}"), "a folder")
    add("batch-unknown-exercise", _cmd(*run, "{good}", "-e", "squatz"), "squatz")
    add("batch-analysis-without-exercise", _cmd(*run, "{good}"), "the analysis needs the clip's exercise")
    add("batch-engine-unknown", _cmd(*run, "{good}", "-e", "squat", "--engine", "spark"), "--engine")
    add("batch-backend-unknown", _cmd(*run, "{good}", "-e", "squat", "--backend", "openpose"), "--backend")
    add("batch-qevd-not-configured", _cmd(*run, "--qevd", "test", "-e", "squat"), "qevd")
    add("batch-status-db-typo", _cmd("batch", "status", "--db", "{tmp}/typo.duckdb"), "typo.duckdb")
    for value in ("0", "-1", "one"):
        add(f"batch-status-job-{value}", _cmd("batch", "status", value), "job")
    add("batch-status-unknown-job", _cmd("batch", "status", "987654"), "987654")

    # review (command-line arguments and inputs only: no Label Studio server)
    add(
        "review-propose-missing-clip",
        _cmd("review", "propose", "{tmp}/none.mp4", "-e", "squat"),
        "none.mp4",
        "no such file",
    )
    add("review-propose-no-exercise", _cmd("review", "propose", "{good}"), "--exercise")
    for opt, value in (("--window-s", "0"), ("--window-s", "nan"), ("--window-s", "-4"), ("--frames", "-1")):
        add(f"review-propose{opt}-{value}", _cmd("review", "propose", "{good}", "-e", "squat", opt, value), opt)
    add(
        "review-propose-db-typo",
        _cmd("review", "propose", "{good}", "-e", "squat", "--db", "{tmp}/typo.duckdb"),
        "typo.duckdb",
    )
    add(
        "review-propose-export-dir-a-file",
        _cmd("review", "propose", "{good}", "-e", "squat", "--export-dir", "{file}"),
        "--export-dir",
        "got a file",
    )
    for step in ("push", "pull", "status"):
        add(
            f"review-{step}-db-typo",
            _cmd("review", step, "--db", "{tmp}/typo.duckdb", "--url", "http://127.0.0.1:9"),
            "typo.duckdb",
        )
    add("review-status-db-folder", _cmd("review", "status", "--db", "{tmp}"), "a folder")
    for value in ("0", "70000", "http"):
        add(f"review-serve-port-{value}", _cmd("review", "serve", "--port", value), "--port")
    add("review-serve-timeout-negative", _cmd("review", "serve", "--timeout", "-1"), "--timeout")
    add("review-unknown-step", _cmd("review", "approve"), "invalid choice")

    # synth and serve: their arguments
    for opt, value in (
        ("--fps", "0"),
        ("--fps", "1e-300"),
        ("--reps", "0"),
        ("--reps", "-5"),
        ("--noise", "nan"),
        ("--dropout", "1"),
        ("--period", "0"),
    ):
        add(f"synth{opt}-{value}", _cmd("synth", "squat", "{tmp}/s_out.npz", opt, value), opt)
    add("synth-out-missing-folder", _cmd("synth", "squat", "{tmp}/no/s.npz"), "expected an existing folder")
    add("synth-fault-malformed", _cmd("synth", "squat", "{tmp}/s_out.npz", "--fault", "shallow"), "--fault")
    add("serve-port-0", _cmd("serve", "--port", "0"), "--port")
    add("serve-db-typo", _cmd("serve", "--db", "{tmp}/typo.duckdb"), "typo.duckdb")
    return cases


def hsmr_file(d: Path, name: str, **arrays: np.ndarray) -> Path:
    """An HSMR-output-like .npz (arrays written with pickling allowed, as a hostile file would be)."""
    return write(d, f"{name}.npz", _zip_bytes({f"{k}.npy": _npy_bytes(v) for k, v in arrays.items()}))


def _folder(d: Path, name: str) -> Path:
    (d / name).mkdir(exist_ok=True)
    return d / name


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


CASES = build_cases()
