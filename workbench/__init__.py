"""BioCoach Workbench: from exercise motion to timed, quantified, biomechanics-grounded coaching."""

__version__ = "0.1.0"
