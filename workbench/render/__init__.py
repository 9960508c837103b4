"""Drawing on video frames: the skeleton, joint angles, rep index and faults (``overlay``)."""

from workbench.render.overlay import (
    JOINT_ANCHORS,
    OverlayTimeline,
    joint_angles_deg,
    render_frame,
    render_overlay,
    render_png,
    save_png,
)

__all__ = [
    "JOINT_ANCHORS",
    "OverlayTimeline",
    "joint_angles_deg",
    "render_frame",
    "render_overlay",
    "render_png",
    "save_png",
]
