"""Pose tracks: the one data model for SKEL joint angles over time, and the backends that make them."""

from workbench.pose.track import PoseTrack

__all__ = ["PoseTrack"]
