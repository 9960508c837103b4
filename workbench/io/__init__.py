"""File formats in and out: pose ``.npz``, OpenSim ``.mot``."""
