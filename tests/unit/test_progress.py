"""Progress of long work: the meter's reports (throttled, monotonic, a final true total), the numbers it
derives (rate, time left) on a clock the test drives, and the terminal renderer's silence off a terminal."""

from __future__ import annotations

import io
import math

import pytest

from workbench.progress import Progress, ProgressMeter, TerminalProgress, terminal_progress


class Clock:
    """A clock the test moves: each frame takes ``step`` seconds."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        return self.now

    def tick(self) -> None:
        self.now += self.step


def run(n: int, total: int | None, step: float = 0.04, interval: float = 0.25) -> list[Progress]:
    """``n`` frames at 25 frames/s through a meter; the reports it made."""
    calls: list[Progress] = []
    clock = Clock(step)
    meter = ProgressMeter(calls.append, total=total, stage="pose", interval_s=interval, clock=clock)
    for _ in range(n):
        clock.tick()
        meter.step()
    meter.close()
    return calls


def test_reports_are_throttled_monotonic_and_end_with_the_true_total() -> None:
    calls = run(100, total=120)  # the duration promised 120 frames, the video had 100
    done = [p.done for p in calls]
    assert done == sorted(done) and done[-1] == 100
    assert 10 <= len(calls) <= 20  # 4 s of work, one report per 0.25 s, not one per frame
    assert not any(p.finished for p in calls[:-1])
    last = calls[-1]
    assert last.finished and last.total == 100 and last.fraction == 1.0 and last.eta_s == 0.0
    assert last.elapsed_s == pytest.approx(4.0) and last.fps == pytest.approx(25.0)


def test_rate_and_time_left() -> None:
    calls = run(50, total=200)
    mid = calls[-2]
    assert mid.eta_s is not None
    assert mid.fps == pytest.approx(25.0, rel=1e-6)
    assert mid.eta_s == pytest.approx((200 - mid.done) / 25.0)
    assert mid.fraction == pytest.approx(mid.done / 200)
    assert mid.text() == f"pose: {mid.done} / 200 frames · 25.0 fps · 0:{math.ceil(round(mid.eta_s, 6)):02d} left"
    assert calls[-1].text() == "pose: 50 frames · 25.0 fps · done in 0:02"


def test_unknown_total_and_more_frames_than_promised() -> None:
    unknown = run(20, total=None)
    assert unknown[0].fraction is None and unknown[0].eta_s is None
    assert "time left unknown" in unknown[0].text() and unknown[-1].total == 20
    over = run(30, total=10)
    assert all(p.total is not None and p.total >= p.done for p in over)


def test_no_callback_costs_nothing_and_close_is_once() -> None:
    meter = ProgressMeter(None, total=3)
    for _ in range(3):
        meter.step()
    meter.close()
    meter.close()
    assert meter.done == 3 and meter.total == 3
    calls: list[Progress] = []
    twice = ProgressMeter(calls.append, total=1)
    twice.close()
    twice.close()
    assert len(calls) == 1


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_renders_one_line_and_is_silent_off_a_terminal() -> None:
    assert terminal_progress(quiet=True, stream=FakeTerminal()) is None
    assert terminal_progress(stream=io.StringIO()) is None  # a pipe or a file: nothing
    tty = FakeTerminal()
    show = terminal_progress(stream=tty)
    assert isinstance(show, TerminalProgress)
    show(Progress("pose", 50, 100, 2.0, 25.0))
    show(Progress("pose", 100, 100, 4.0, 25.0, finished=True))
    out = tty.getvalue()
    assert out.startswith("\r[##########..........] pose: 50 / 100 frames · 25.0 fps · 0:02 left")
    final = out.split("\r")[-1]
    assert final.rstrip() == "pose: 100 frames · 25.0 fps · done in 0:04" and final.endswith("\n")
    assert len(final) > len(out.split("\r")[1])  # padded over the longer line it replaces
    assert out.count("\n") == 1  # one line, redrawn in place, left standing at the end
