"""Judgments fitted to labelled repetitions: calibration of references, bounds and the per-rep score, and
their assessment (ROC AUC, sensitivity, specificity) on labelled data."""
