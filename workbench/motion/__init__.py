"""Motion quality: cycles, reference alignment, constraint checks and the C_motion text (paper §3.4.2)."""
