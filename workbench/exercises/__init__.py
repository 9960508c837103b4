"""The exercise catalogue: rules, key frames, constraints and reference trajectories, loaded from data."""

from workbench.exercises.catalogue import Catalogue, Constraint, CycleSpec, Exercise, KeyFrame, load_catalogue

__all__ = ["Catalogue", "Constraint", "CycleSpec", "Exercise", "KeyFrame", "load_catalogue"]
