"""Video IO: probing, real timestamps, resampling to the analysis rate, rotation, errors, writing.

Every clip is generated here with PyAV. Each frame carries its own index as 8 black/white vertical bars
(bit 7 on the left), which survives H.264 compression, so a test can tell exactly which source frame the
reader picked for each output frame.
"""

from __future__ import annotations

import shutil
import struct
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import matplotlib
import numpy as np
import pytest

from workbench.errors import WorkbenchError
from workbench.io.video import (
    VideoError,
    VideoWarning,
    iter_frames,
    probe,
    read_ahead,
    read_frame_at,
    resample_latest,
    write_video,
)

W, H = 64, 48


def code_frame(i: int, w: int = W, h: int = H) -> np.ndarray:
    """A frame whose 8 vertical bars spell ``i`` in binary (white = 1)."""
    img = np.zeros((h, w, 3), np.uint8)
    bar = w // 8
    for b in range(8):
        if (i >> (7 - b)) & 1:
            img[:, b * bar : (b + 1) * bar] = 255
    return img


def read_code(rgb: np.ndarray) -> int:
    h, w = rgb.shape[:2]
    bar = w // 8
    middle = rgb[h // 4 : 3 * h // 4]
    bits = [middle[:, b * bar + 2 : (b + 1) * bar - 2].mean() > 128 for b in range(8)]
    return int(sum(int(bit) << (7 - b) for b, bit in enumerate(bits)))


def encode(
    path: Path,
    frames: Sequence[np.ndarray],
    pts: Sequence[int] | None = None,
    time_base: Fraction = Fraction(1, 30),
    rate: int = 30,
    options: dict[str, str] | None = None,
    rotate_ccw: int | None = None,
) -> Path:
    """Encode RGB frames as H.264 with explicit timestamps (``pts`` in ``time_base`` units)."""
    container = av.open(str(path), "w", options=options or {})
    stream = container.add_stream("libx264", rate=rate, options={"crf": "10", "preset": "ultrafast"})
    h, w = frames[0].shape[:2]
    stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
    stream.codec_context.time_base = time_base
    stream.time_base = time_base
    if rotate_ccw is not None:
        stream.set_display_rotation(rotate_ccw)
    for i, rgb in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = i if pts is None else pts[i]
        frame.time_base = time_base
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
    container.close()
    return path


def coded_clip(path: Path, n: int, fps: int, w: int = W, h: int = H) -> Path:
    return encode(path, [code_frame(i, w, h) for i in range(n)], time_base=Fraction(1, fps), rate=fps)


# ------------------------------------------------------------------------------------------ timestamps


def test_constant_30fps_keeps_every_frame(tmp_path: Path) -> None:
    clip = coded_clip(tmp_path / "c30.mp4", 30, 30)
    info = probe(clip)
    assert (info.width, info.height, info.n_frames, info.rotation) == (W, H, 30, 0)
    assert info.fps == pytest.approx(30.0) and info.duration_s == pytest.approx(1.0)
    assert not info.is_vfr and info.codec == "h264" and not info.portrait
    frames = list(iter_frames(clip, fps=30.0))
    assert [f.index for f in frames] == list(range(30))
    assert [read_code(f.rgb) for f in frames] == list(range(30))
    np.testing.assert_allclose([f.t_s for f in frames], np.arange(30) / 30, atol=1e-9)
    assert frames[0].rgb.shape == (H, W, 3) and frames[0].rgb.dtype == np.uint8


def test_60fps_resampled_to_30_takes_every_second_frame(tmp_path: Path) -> None:
    clip = coded_clip(tmp_path / "c60.mp4", 120, 60)
    assert probe(clip).fps == pytest.approx(60.0)
    frames = list(iter_frames(clip, fps=30.0))
    assert len(frames) == 60  # 2 s × 30
    np.testing.assert_allclose([f.t_s for f in frames], np.arange(60) / 30, atol=1e-12)
    assert [read_code(f.rgb) for f in frames] == list(range(0, 120, 2))
    assert [f.source_index for f in frames] == list(range(0, 120, 2))


def test_fps_none_keeps_every_frame_with_real_timestamps(tmp_path: Path) -> None:
    clip = coded_clip(tmp_path / "c60.mp4", 120, 60)
    frames = list(iter_frames(clip, fps=None))
    assert len(frames) == 120
    np.testing.assert_allclose([f.t_s for f in frames], np.arange(120) / 60, atol=1e-6)
    assert [read_code(f.rgb) for f in frames] == list(range(120))


def vfr_times_ms() -> list[int]:
    """Irregular capture times (ms), as a phone gives under changing light: bursts, gaps, jitter."""
    rng = np.random.default_rng(3)
    gaps = rng.choice([8, 17, 33, 34, 50, 70, 120], size=60)
    return [0, *np.cumsum(gaps).tolist()]


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_variable_frame_rate_resampled_to_latest_frame_at_or_before(tmp_path: Path, suffix: str) -> None:
    times = vfr_times_ms()
    clip = encode(
        tmp_path / f"vfr{suffix}", [code_frame(i) for i in range(len(times))], pts=times, time_base=Fraction(1, 1000)
    )
    assert probe(clip).is_vfr
    frames = list(iter_frames(clip, fps=30.0))
    t_src = np.asarray(times) / 1000
    targets = np.arange(len(frames)) / 30
    expected = [int(np.searchsorted(t_src, t + 1e-3 + 1e-9, side="right") - 1) for t in targets]
    assert len(frames) == int(np.floor(t_src[-1] * 30 + 1e-6)) + 1
    np.testing.assert_allclose([f.t_s for f in frames], targets, atol=1e-12)
    assert [read_code(f.rgb) for f in frames] == expected
    for f in frames:  # never a frame from the future (beyond one millisecond tick of timestamp rounding)
        assert f.source_t_s <= f.t_s + 1e-3 + 1e-9
    raw = list(iter_frames(clip, fps=None))
    np.testing.assert_allclose([f.t_s for f in raw], t_src, atol=1e-9)


def test_constant_rate_clip_is_not_vfr_with_millisecond_timestamps(tmp_path: Path) -> None:
    """30 fps in a 1 ms time base rounds intervals to 33/34 ms: still constant, and no frame is doubled."""
    times = [round(i * 1000 / 30) for i in range(45)]
    clip = encode(tmp_path / "ms.mkv", [code_frame(i) for i in range(45)], pts=times, time_base=Fraction(1, 1000))
    assert not probe(clip).is_vfr
    assert [read_code(f.rgb) for f in iter_frames(clip, fps=30.0)] == list(range(45))


def test_frames_kept_by_the_caller_are_never_overwritten(tmp_path: Path) -> None:
    """Output arrays are recycled only when nothing refers to them; a kept view keeps its frame intact."""
    clip = coded_clip(tmp_path / "c30.mp4", 30, 30)
    kept = {}
    addresses = set()
    for f in iter_frames(clip, fps=None):
        addresses.add(f.rgb.ctypes.data)
        if f.index % 3 == 0:
            kept[f.index] = f.rgb[:, :]
    assert {i: read_code(v) for i, v in kept.items()} == {i: i for i in kept}
    assert len(addresses) < 30  # the frames nobody kept were recycled


def test_resample_latest_pure() -> None:
    items = [(0.0, "a"), (0.05, "b"), (0.1, "c"), (0.3, "d")]
    got = [(k, item) for k, _, item, _ in resample_latest(items, fps=10.0)]
    assert got == [(0, "a"), (1, "c"), (2, "c"), (3, "d")]
    assert list(resample_latest([], fps=10.0)) == []


def test_max_side_downscales_keeping_aspect(tmp_path: Path) -> None:
    clip = coded_clip(tmp_path / "big.mp4", 10, 30, w=320, h=240)
    frames = list(iter_frames(clip, max_side=160))
    assert frames[0].rgb.shape == (120, 160, 3)
    assert [read_code(f.rgb) for f in frames] == list(range(10))
    assert next(iter(iter_frames(clip, max_side=1000))).rgb.shape == (240, 320, 3)  # never upscaled


def test_read_frame_at(tmp_path: Path) -> None:
    clip = coded_clip(tmp_path / "c30.mp4", 30, 30)
    assert read_code(read_frame_at(clip, 0.5).rgb) == 15
    assert read_code(read_frame_at(clip, 0.51).rgb) == 15  # latest at or before
    assert read_code(read_frame_at(clip, 99.0).rgb) == 29  # past the end: the last frame


# --------------------------------------------------------------------------------------- orientation


def test_portrait_clip(tmp_path: Path) -> None:
    clip = coded_clip(tmp_path / "portrait.mp4", 15, 30, w=48, h=64)
    info = probe(clip)
    assert (info.width, info.height, info.rotation) == (48, 64, 0) and info.portrait
    frames = list(iter_frames(clip))
    assert frames[0].rgb.shape == (64, 48, 3)
    assert [read_code(f.rgb) for f in frames] == list(range(15))


def upright_scene() -> np.ndarray:
    """A portrait picture with no symmetry: red block top left, green block bottom right."""
    img = np.full((64, 48, 3), 128, np.uint8)
    img[4:20, 4:20] = (255, 0, 0)
    img[44:60, 28:44] = (0, 255, 0)
    return img


def set_tkhd_rotation(path: Path, clockwise: int) -> None:
    """Patch the track header matrix exactly as FFmpeg's mp4 muxer (movenc.c) writes it for the legacy
    ``rotate`` tag, which is also what phones write: ``rotate=90`` means "turn 90° clockwise to display".
    This is an independent route to a rotated file: it does not rely on PyAV's display-matrix setter."""
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    assert at > 0 and data.find(b"tkhd", at + 4) < 0, "expected exactly one track"
    version = data[at + 4]
    matrix_at = at + 8 + (32 if version == 1 else 20) + 16
    w, h = W, H  # unused offsets in FFmpeg's reading; kept as movenc writes them
    a, b, c, d, tx, ty = {90: (0, 1, -1, 0, h, 0), 180: (-1, 0, 0, -1, w, h), 270: (0, -1, 1, 0, 0, w)}[clockwise]
    data[matrix_at : matrix_at + 36] = struct.pack(
        ">9i", a << 16, b << 16, 0, c << 16, d << 16, 0, tx << 16, ty << 16, 1 << 30
    )
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("clockwise", [90, 180, 270])
def test_rotation_from_mp4_track_matrix_gives_upright_frames(tmp_path: Path, clockwise: int) -> None:
    scene = upright_scene()
    stored = np.ascontiguousarray(np.rot90(scene, k=clockwise // 90))  # what the sensor recorded
    clip = encode(tmp_path / "rot.mp4", [stored] * 10)
    set_tkhd_rotation(clip, clockwise)
    info = probe(clip)
    assert info.rotation == clockwise
    assert (info.width, info.height) == (48, 64)  # as displayed
    frames = list(iter_frames(clip))
    assert len(frames) == 10
    rgb = frames[0].rgb.astype(int)
    assert rgb.shape == scene.shape
    assert np.abs(rgb - scene).mean() < 6
    assert rgb[12, 12].tolist() == pytest.approx([255, 0, 0], abs=30)
    assert rgb[52, 36].tolist() == pytest.approx([0, 255, 0], abs=30)


def test_rotation_from_pyav_display_matrix(tmp_path: Path) -> None:
    """PyAV's own setter (counter-clockwise degrees) reads back as the equivalent clockwise turn."""
    scene = upright_scene()
    stored = np.ascontiguousarray(np.rot90(scene, k=3))  # needs a 270° clockwise (= 90° ccw) turn
    clip = encode(tmp_path / "rot.mp4", [stored] * 5, rotate_ccw=90)
    assert probe(clip).rotation == 270
    assert np.abs(next(iter(iter_frames(clip))).rgb.astype(int) - scene).mean() < 6


# -------------------------------------------------------------------------------------------- errors


def expect_error(path: Path, *fragments: str) -> str:
    for call in (lambda: probe(path), lambda: list(iter_frames(path))):
        with pytest.raises(VideoError) as err:
            call()
        message = str(err.value)
        assert path.name in message
        for fragment in fragments:
            assert fragment in message, message
    assert issubclass(VideoError, WorkbenchError)
    return message


def test_missing_file(tmp_path: Path) -> None:
    expect_error(tmp_path / "nope.mp4", "not found", "expected a video file")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.touch()
    expect_error(path, "empty (0 bytes)", "expected a video")


def test_text_file_named_mp4(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("squat 3x10\n" * 100)
    expect_error(path, "not a video", "expected a video container", "got a text file")


def test_jpeg_named_mp4(tmp_path: Path) -> None:
    path = tmp_path / "photo.mp4"
    shutil.copy(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg", path)
    expect_error(path, "expected a video", "still image", "JPEG")


def test_audio_only_file(tmp_path: Path) -> None:
    path = tmp_path / "voice.mp4"
    container = av.open(str(path), "w")
    stream = container.add_stream("aac", rate=16000)
    for _ in range(10):
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
    container.close()
    expect_error(path, "expected a video stream", "found audio (aac)")


def test_truncated_mp4_without_index(tmp_path: Path) -> None:
    """The usual mp4 keeps its index at the end: cut in half, nothing can be decoded."""
    clip = coded_clip(tmp_path / "cut.mp4", 60, 30)
    data = clip.read_bytes()
    clip.write_bytes(data[: len(data) // 2])
    expect_error(clip, "truncated or corrupt", "'moov' box) is missing")


def test_truncated_streamable_file_keeps_frames_with_a_warning(tmp_path: Path) -> None:
    """Index first (faststart): the first frames decode; the reader stops with a warning, not a crash."""
    clip = encode(tmp_path / "cut.mp4", [code_frame(i) for i in range(60)], options={"movflags": "faststart"})
    data = clip.read_bytes()
    clip.write_bytes(data[: len(data) * 6 // 10])
    notes: list[str] = []
    frames = list(iter_frames(clip, fps=None, warnings_out=notes))
    assert 0 < len(frames) < 60
    assert [read_code(f.rgb) for f in frames] == list(range(len(frames)))
    assert len(notes) == 1 and "cut.mp4" in notes[0] and "truncated or damaged" in notes[0]
    assert "lists 60 frames" in notes[0] and f"only {len(frames)}" in notes[0]
    with pytest.warns(VideoWarning, match="truncated or damaged"):
        list(iter_frames(clip))


def test_truncated_mkv_warns_by_duration(tmp_path: Path) -> None:
    clip = coded_clip(tmp_path / "cut.mkv", 60, 30)
    data = clip.read_bytes()
    clip.write_bytes(data[: len(data) // 2])
    notes: list[str] = []
    frames = list(iter_frames(clip, warnings_out=notes))
    assert 0 < len(frames) < 60 and len(notes) == 1
    assert "states 2.00 s" in notes[0] and "decoded up to" in notes[0]


def test_damage_in_the_middle_is_skipped_with_a_warning(tmp_path: Path) -> None:
    """Noise over part of the frame data: frames before it are intact, decoding resumes after it."""
    clip = encode(tmp_path / "hole.mp4", [code_frame(i) for i in range(60)], options={"movflags": "faststart"})
    data = bytearray(clip.read_bytes())
    mdat = data.find(b"mdat") + 4
    lo, hi = mdat + (len(data) - mdat) // 3, mdat + (len(data) - mdat) // 2
    data[lo:hi] = np.random.default_rng(0).integers(0, 256, hi - lo, dtype=np.uint8).tobytes()
    clip.write_bytes(bytes(data))
    notes: list[str] = []
    codes = [read_code(f.rgb) for f in iter_frames(clip, fps=None, warnings_out=notes)]
    assert codes[:5] == [0, 1, 2, 3, 4] and codes[-1] == 59
    assert any("damaged packets skipped" in n for n in notes), notes


def test_garbage_after_header_is_corrupt(tmp_path: Path) -> None:
    """A real container header followed by noise: packets exist but no frame decodes."""
    clip = encode(tmp_path / "noise.mp4", [code_frame(i) for i in range(30)], options={"movflags": "faststart"})
    data = bytearray(clip.read_bytes())
    mdat = data.find(b"mdat") + 4
    data[mdat:] = np.random.default_rng(0).integers(0, 256, len(data) - mdat, dtype=np.uint8).tobytes()
    clip.write_bytes(bytes(data))
    with pytest.raises(VideoError, match=r"noise\.mp4: corrupt video: .* no frame could be decoded"):
        list(iter_frames(clip))


def test_zero_length_video_stream(tmp_path: Path) -> None:
    """An AVI with a declared H.264 stream and not one frame."""
    path = tmp_path / "zero.avi"
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=30)
    stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
    container.start_encoding()
    container.close()
    expect_error(path, "zero-length video", "holds no frames", "h264")


def test_zero_length_mp4_container(tmp_path: Path) -> None:
    """An mp4 closed before its first frame: FFmpeg sees a container with no streams."""
    path = tmp_path / "zero.mp4"
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=30)
    stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
    container.start_encoding()
    container.close()
    expect_error(path, "expected a video stream", "zero-length video")


def test_bad_fps_argument(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fps"):
        list(iter_frames(tmp_path / "x.mp4", fps=0))


# ------------------------------------------------------------------------------------------- writing


def test_write_video_round_trip_with_odd_size(tmp_path: Path) -> None:
    frames = [np.ascontiguousarray(code_frame(i, 66, 47)[:, :65]) for i in range(20)]  # 65×47: both odd
    out = write_video(tmp_path / "w.mp4", iter(frames), fps=25.0, crf=12)
    info = probe(out)
    assert (info.width, info.height, info.codec, info.n_frames) == (66, 48, "h264", 20)
    assert info.fps == pytest.approx(25.0)
    back = list(iter_frames(out, fps=None))
    assert len(back) == 20
    np.testing.assert_allclose([f.t_s for f in back], np.arange(20) / 25, atol=1e-6)
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p"


def test_write_video_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="no frames to write"):
        write_video(tmp_path / "none.mp4", [], fps=30)
    with pytest.raises(VideoError, match="expected the first frame's shape"):
        write_video(tmp_path / "mixed.mp4", [code_frame(0), code_frame(1, 32, 32)], fps=30)
    assert not (tmp_path / "none.mp4").exists() and not (tmp_path / "mixed.mp4").exists()


# ------------------------------------------------------------------------------------- reading ahead


def test_read_ahead_gives_the_same_frames_and_keeps_each_intact(tmp_path: Path) -> None:
    """Decoded in a thread while the consumer works: same frames, same order, and a frame still held by the
    consumer is never recycled for a newer one (the pool covers the frames in flight)."""
    import time

    clip = coded_clip(tmp_path / "c30.mp4", 90, 30)
    plain = [(f.index, f.t_s, f.source_index) for f in iter_frames(clip, fps=30.0)]
    held = []
    for f in read_ahead(iter_frames(clip, fps=30.0), depth=4):
        time.sleep(0.001)  # a slow consumer: the reader runs ahead and waits on a full queue
        held.append(f)
    assert [(f.index, f.t_s, f.source_index) for f in held] == plain
    assert [read_code(f.rgb) for f in held] == list(range(90))


def test_read_ahead_reraises_after_the_items_before_the_error() -> None:
    def items():  # type: ignore[no-untyped-def]
        yield 1
        yield 2
        raise VideoError("clip.mp4: corrupt video")

    got = []
    with pytest.raises(VideoError, match="corrupt video"):
        for x in read_ahead(items(), depth=1):
            got.append(x)
    assert got == [1, 2]
    with pytest.raises(VideoError, match="not found"):  # a generator's first-next error reaches the consumer
        next(read_ahead(iter_frames(Path("/nonexistent/clip.mp4"))))
    with pytest.raises(ValueError, match="depth: expected at least 1, got 0"):
        next(read_ahead([1], depth=0))


def test_closing_read_ahead_early_stops_the_thread_and_closes_the_source() -> None:
    import threading

    closed = threading.Event()

    def endless():  # type: ignore[no-untyped-def]
        try:
            k = 0
            while True:
                yield k
                k += 1
        finally:
            closed.set()

    before = threading.active_count()
    frames = read_ahead(endless(), depth=2)
    assert [next(frames) for _ in range(5)] == [0, 1, 2, 3, 4]
    frames.close()
    assert closed.wait(5) and threading.active_count() == before
