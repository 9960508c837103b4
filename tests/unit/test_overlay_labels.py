"""Overlay labels (render.overlay.layout_labels): never overlapping, inside the frame, beside their joints.

Ground truth: a side view puts both hips (and both knees, ankles) at nearly the same pixel; eight labels
anchored there must get eight disjoint boxes, each within a few label heights of its joint, clear of the
header; a label without a joint takes the bottom-right column; with the fitted skeleton drawn, the far
side's labels sit by their joints instead of in the corner.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tests.camera_support import SIZE, side_view_squat
from workbench.body.reprojection import fit_skeleton
from workbench.pose.landmark_files import landmarks_to_track
from workbench.render.overlay import TEXT_COLOR, Box, Label, boxes_overlap, layout_labels, render_frame

W, H = 640, 360


def crowded(n: int = 8, at: tuple[float, float] = (320.0, 200.0)) -> list[Label]:
    rng = np.random.default_rng(0)
    return [Label(f"L{k}", 90, 22, (at[0] + rng.normal(0, 3), at[1] + rng.normal(0, 3))) for k in range(n)]


def disjoint(boxes: list[Box]) -> bool:
    return not any(boxes_overlap(a, b) for a, b in itertools.combinations(boxes, 2))


def inside(box: Box, w: int = W, h: int = H) -> bool:
    return box[0] >= 0 and box[1] >= 0 and box[2] <= w and box[3] <= h


def distance(box: Box, anchor: tuple[float, float]) -> float:
    dx = max(box[0] - anchor[0], 0.0, anchor[0] - box[2])
    dy = max(box[1] - anchor[1], 0.0, anchor[1] - box[3])
    return float(np.hypot(dx, dy))


def test_labels_at_one_joint_get_disjoint_boxes_beside_it() -> None:
    labels = crowded()
    boxes = layout_labels(labels, (W, H), gap=6, margin=4, centre_x=300.0)
    assert all(b is not None for b in boxes)
    placed = [b for b in boxes if b is not None]
    assert disjoint(placed) and all(inside(b) for b in placed)
    for label, box in zip(labels, placed, strict=True):
        assert label.anchor is not None and distance(box, label.anchor) < 5 * label.height
    first = placed[0]
    assert first[0] > 320 - 10  # the first goes beside the joint on the side away from the body's centre line


def test_obstacles_and_frame_edges_are_respected() -> None:
    header: Box = (0, 0, 400, 60)
    labels = [*crowded(4, at=(30.0, 20.0)), *crowded(4, at=(630.0, 350.0))]  # corners of the frame
    boxes = layout_labels(labels, (W, H), gap=6, margin=4, centre_x=320.0, obstacles=[header])
    placed = [b for b in boxes if b is not None]
    assert len(placed) == len(labels)
    assert disjoint([*placed, header]) and all(inside(b) for b in placed)


def test_labels_without_a_joint_stack_bottom_right() -> None:
    labels = [Label(f"x{k}", 80, 20, None) for k in range(3)]
    boxes = layout_labels(labels, (W, H), gap=6, margin=4)
    placed = [b for b in boxes if b is not None]
    assert len(placed) == 3 and disjoint(placed)
    assert all(b[2] == W - 4 and b[1] > H / 2 for b in placed)


def test_no_room_drops_a_label_rather_than_overlapping() -> None:
    labels = [Label(f"x{k}", 60, 50, (30.0, 30.0)) for k in range(6)]
    boxes = layout_labels(labels, (100, 100), gap=2)
    assert disjoint([b for b in boxes if b is not None]) and None in boxes


def test_fitted_skeleton_puts_far_side_labels_by_their_joints() -> None:
    """Side view: the far (left) knee's label is written next to the fitted skeleton's knee, not in the corner
    (where a label goes when MediaPipe's landmark for its joint is not seen)."""
    view = side_view_squat(seconds=3.0)
    track = view.track()
    pose, _ = landmarks_to_track(track)
    fit = fit_skeleton(pose, track)
    assert fit is not None
    i = int(np.argmax(view.q[:, 6]))  # the bottom
    frame = np.full((SIZE[1], SIZE[0], 3), 90, np.uint8)
    angles = {"tibia_l": 110.0}
    out = render_frame(frame, None, angles, None, [], lost=False, skeleton_row=fit.image[i])
    ys, xs = np.nonzero((np.abs(out.astype(int) - TEXT_COLOR) <= 60).all(axis=2))
    knee = fit.image[i, 25] * SIZE  # left_knee
    assert ys.size > 30
    assert abs(np.median(ys) - knee[1]) < 40 and abs(np.median(xs) - knee[0]) < 150


@pytest.mark.parametrize("n", [2, 6, 12])
def test_any_number_of_side_view_labels_never_overlap(n: int) -> None:
    rng = np.random.default_rng(n)
    labels = [
        Label("R hip 147°", int(rng.integers(60, 140)), 24, (float(x), float(y)))
        for x, y in rng.normal((320, 180), 15, (n, 2))
    ]
    placed = [b for b in layout_labels(labels, (W, H), gap=6, margin=4, centre_x=320.0) if b is not None]
    assert len(placed) == n and disjoint(placed)
