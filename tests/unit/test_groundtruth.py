"""Ground-truth feedback sidecars, and the clip page showing predicted beside expected feedback."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from workbench.dashboard.pages.clip import feedback_text
from workbench.errors import WorkbenchError
from workbench.io.groundtruth import load_ground_truth, sidecar_path
from workbench.motion.results import FeedbackEvent


def test_sidecar_is_read_sorted_and_checked(tmp_path: Path) -> None:
    clip = tmp_path / "squat.mp4"
    assert load_ground_truth(clip) is None
    sidecar_path(clip).write_text(json.dumps([{"t_s": 4.0, "text": "lower"}, {"t_s": 1.5, "text": "good"}]))
    assert [(e.t_s, e.text) for e in load_ground_truth(clip) or []] == [(1.5, "good"), (4.0, "lower")]
    sidecar_path(clip).write_text(json.dumps([{"t": 1}]))
    with pytest.raises(WorkbenchError, match=r"item 0: expected"):
        load_ground_truth(clip)


def test_clip_page_shows_predicted_and_ground_truth(tmp_path: Path) -> None:
    clip = tmp_path / "c.npz"
    sidecar_path(clip).write_text(json.dumps([{"t_s": 2.0, "text": "sit deeper"}]))
    analysis = SimpleNamespace(
        feedback=[FeedbackEvent(2.3, "Right knee flexion 80°, target 90°.", [])], provenance={"input": str(clip)}
    )
    text = feedback_text(SimpleNamespace(analysis=analysis), t_s=2.1)
    assert "**Predicted**" in text and "**Ground truth**" in text
    assert "▶ **2.00 s** — sit deeper" in text and "· **2.30 s** — Right knee flexion 80°" in text
