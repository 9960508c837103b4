"""C_motion text against golden files (regenerate with BIOCOACH_UPDATE_GOLDEN=1 after an intended change)."""

import os
from pathlib import Path

import numpy as np

from tests.conftest import squat_track
from workbench.motion.analysis import analyze
from workbench.motion.context import motion_context, pose_state
from workbench.motion.results import Violation
from workbench.skeleton import N_DOFS, dof_index

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("BIOCOACH_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_paper_example_format() -> None:
    """The example of paper §3.4.2, reproduced exactly from its numbers."""
    q = np.zeros(N_DOFS)
    q[dof_index("knee_angle_r")] = np.radians(85)
    q[dof_index("knee_angle_l")] = np.radians(88)
    q[dof_index("hip_flexion_r")] = np.radians(75)
    v = Violation(
        rep=0,
        check="knee_depth",
        joint="tibia_r",
        dof="knee_angle_r",
        type="dynamic",
        value_deg=85,
        target_deg=90,
        bounds_deg=(90, None),
        deviation_deg=5,
        message="Right knee flexion insufficient (85° detected, 90° required)",
        cue="",
        phase="descent",
        t_s=1.0,
        source="escamilla2001",
    )
    state = pose_state(q, ["tibia_r", "tibia_l", "femur_r"], np.ones(N_DOFS, bool))
    assert motion_context(state, [v]) == (
        "Current pose: right knee 85°, left knee 88°, right hip 75°.\n"
        "Form issues: Right knee flexion insufficient (85° detected, 90° required)"
    )


def test_squat_session_context_golden() -> None:
    """Three reps of known depth (100°, 85°, 120°) with 1° noise: the context as each rep completes."""
    track = squat_track(3, depths_deg=[100, 85, 120], rest_s=0.5, noise_deg=1.0, seed=7)
    analysis = analyze(track, "squat")
    lines = [f"rep {r.index}: {r.start_s:.2f}-{r.end_s:.2f} s" for r in analysis.reps]
    for rep in analysis.reps:
        last_pose = pose_state(track.q[rep.end_frame], analysis.salient_joints, track.observed)
        lines.append(motion_context(last_pose, rep.violations))
    lines += ["final:", analysis.context_motion, analysis.context_morph, ""]
    _check_golden("squat_context.txt", "\n".join(lines))


def test_rep_count_line_is_stated_for_rep_exercises_and_kept_by_the_selected_joint_mask() -> None:
    """C_motion ends with the reps completed (the number a counting line says), never for a static hold; the
    neural coach's joint mask drops other joints' angles but keeps the count."""
    from workbench.exercises import load_catalogue
    from workbench.model.tokens import masked_motion_context
    from workbench.motion.context import reps_completed

    catalogue = load_catalogue()
    assert reps_completed(catalogue.get("squat"), [object()] * 10) == 10
    assert reps_completed(catalogue.get("plank"), [object()] * 3) is None
    text = motion_context("Current pose: right knee 85°, left hip 70°.", [], 10)
    assert text == "Current pose: right knee 85°, left hip 70°.\nForm issues: none\nReps completed: 10."
    masked = masked_motion_context(text, [], ["tibia_r"])
    assert masked == "Current pose: right knee 85°.\nForm issues: none\nReps completed: 10."
    assert motion_context("Current pose: no pose yet.", []).count("\n") == 1  # no count line when not given
