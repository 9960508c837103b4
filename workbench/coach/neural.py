"""Streaming decode of the neural coach: one decision every 250 ms within a 25 ms CPU budget.

What a decision step costs, and why it is cheap (measured in BENCHMARKS.md, ``bench/bench_coach.py``):

- The fixed prefix (prompt, exercise, C_morph) is prefilled once per session into a static KV cache
  (``FastDecoder``). Each silent step then appends only this step's fused visual token(s) — one token on the
  CPU, not a re-encoded 150-token context (``<next>`` is predicted but not fed back, ``tokens.py``).
- When a cycle completes (violations change; supplement §12.2 refreshes violations per cycle) the new C_motion
  block (~50 tokens, ~185 ms on one core) is appended after that step's action, in a background thread that
  runs in the 250 ms gap before the next decision; that decision waits for it, and sees the new context. So
  the step at which a rep completes decides on the previous context, and the next one (250 ms later) on the
  new one. Training uses the same layout.
- At a decision step only the two allowed output rows (``<next>``, ``<feedback>``) are computed, not the
  49k-row vocabulary. Inside an utterance the full vocabulary plus the end token is scored, greedily, with
  the constrained-decoding rules (``constrain_utterance_logits``), and at most 128 tokens.
- The LM's linear layers run as int8 weight-only copies (per-channel scales) on the CPU, or bf16
  (``decode_weights``); the shared LM is not touched.
- Pose-only input: the backbone sees black frames (config ``pose_only_frames``), so the fused visual token
  is the same every step and is computed once per session.
- When the cache would pass ``context_window`` positions it falls back to the prefix and re-appends the
  current C_motion (one longer step, every few minutes of session).

The same sequence layout is used in training (``workbench.model.tokens``).
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from workbench.coach.coaching import DecisionInput, Evidence, Utterance, UtteranceKind
from workbench.config import Config
from workbench.exercises.catalogue import REFERENCES_DIR, Exercise
from workbench.llm import load_causal_lm
from workbench.model.backbone import load_backbone_checkpoint
from workbench.model.configuration_coach import CONFIG_NAME, END, FEEDBACK, NEXT, CoachConfig
from workbench.model.fastlm import FastDecoder
from workbench.model.grounded_numbers import NumberGuard, digit_runs, vocabulary_texts
from workbench.model.modeling_coach import CoachModel, constrain_utterance_logits, read_provenance
from workbench.model.tokens import (
    encode,
    joint_names_of,
    masked_motion_context,
    motion_block,
    prefix_text,
)
from workbench.motion.context import findings

log = logging.getLogger(__name__)

UNTRAINED_NOTE = (
    "neural coach: no coach_checkpoint configured and no shipped checkpoint in references/coach, so the fusion "
    "layers and new tokens are UNTRAINED (it will not speak); train one with `biocoach train` and set "
    "coach_checkpoint"
)
# The checkpoint shipped with the project (trainable parts only, a few MB; its provenance.json says how it was
# trained and evaluated): what `biocoach coach --model neural` loads when no coach_checkpoint is configured.
SHIPPED_CHECKPOINT = REFERENCES_DIR / "coach"
FRAMES_NOT_USED_NOTE = (
    "the checkpoint was trained on pose-only sessions (black frames): the video's frames are not fed to its "
    "backbone; train on sessions with video to use them"
)
DEFAULT_JOINTS_NOTE = "DoF selector not trained: the exercise's salient joints (as the store has them) are used"


@dataclass
class DecodeStats:
    """Per-session counters, for the benchmark and the provenance."""

    steps: int = 0
    refreshes: int = 0
    window_resets: int = 0
    utterance_tokens: int = 0
    step_ms: list[float] = field(default_factory=list)  # the decision itself
    wait_ms: list[float] = field(default_factory=list)  # waiting for a background refresh before it
    refresh_ms: list[float] = field(default_factory=list)  # each background C_motion prefill


class NeuralCoach:
    """The neural coach behind the ``Coach`` protocol (``workbench.coach.coaching``)."""

    # The step at which a rep completes decides on the C_motion in the cache; the new one is appended after it
    # (see the module doc), so the coach first reads a completed rep one step later. The loop's ``finish``
    # gives it that step after the stream's last rep (``workbench.coach.loop.context_lag``).
    context_lag_steps = 1

    def __init__(
        self,
        model: CoachModel,
        tokenizer: Any,
        *,
        provenance: dict[str, Any] | None = None,
        weights: str | None = None,
        threads: int | None = None,
    ):
        self.model = model.eval()
        self.config: CoachConfig = model.config
        self.tokenizer = tokenizer
        threads = self.config.decode_threads if threads is None else threads
        on_cpu = next(model.parameters()).device.type == "cpu"
        if on_cpu:
            torch.set_num_threads(threads or auto_threads())
        weights = weights or self.config.decode_weights
        self.decoder = FastDecoder(
            model.lm,
            max_len=self.config.context_window,
            quantize=weights if weights in ("int8", "int4") else False,
            dtype=torch.bfloat16 if weights == "bfloat16" else None,
        )
        self.weights = weights
        order = [self.config.special_tokens.index(t) for t in (NEXT, FEEDBACK)]
        self.rows_action = model.special_head.detach()[order].clone()  # the only rows scored at a decision step
        self.numbers = NumberGuard(vocabulary_texts(tokenizer, self.config.lm_vocab))
        if on_cpu and not threads:  # automatic: time a decision step with one thread and with all cores
            torch.set_num_threads(auto_threads(self._probe_step))
        self.threads = torch.get_num_threads()
        self.provenance: dict[str, Any] = dict(provenance or {})
        self.provenance.setdefault("notes", [])
        self.provenance.update(
            {
                "decode": "FastDecoder, static KV cache, 2-row action logits",
                "decode_weights": weights,
                "decode_threads": self.threads,
                "lm_visual_tokens": self.config.lm_visual_tokens,
                "pose_only_frames": self.config.pose_only_frames,
                "grounded_numbers": self.config.grounded_numbers,
            }
        )
        self.stats = DecodeStats()
        self.exercise = ""
        self.salient_joints: tuple[str, ...] = ()
        self._prefix_len = 0
        self._pending: list[Tensor] = []  # token embeddings owed to the cache before the next visual token
        self._context_motion: str | None = None  # the C_motion in the cache, and its violations
        self._context_violations: tuple[Any, ...] = ()
        self._job: Any = None  # a background C_motion refresh (threading.Thread)
        self._job_error: BaseException | None = None
        self._reset_due = False
        self._window_steps = 0  # decision steps since the context last started from the prefix
        self._morph: Tensor | None = None
        self._context_morph = ""
        self._const_z: Tensor | None = None
        self._vis_state: Tensor | None = None
        self._pooled: list[Tensor] = []
        self._selector_fixed = False

    @property
    def name(self) -> str:
        return "neural"

    @property
    def video_fps(self) -> float:
        """The rate at which the pipeline should hand this coach video frames (the backbone's 16 fps)."""
        return float(self.config.fps)

    def _probe_step(self) -> None:
        """A decision step's decoder work (one token through every layer, two output rows), on scratch
        positions that ``reset`` overwrites: what ``auto_threads`` times."""
        with torch.inference_mode():
            self.decoder.reset(0)
            token = torch.zeros(1, 1, self.decoder.hidden, dtype=self.decoder.dtype)
            self.decoder.logits(self.decoder.append(token)[0, -1], self.rows_action)
            self.decoder.reset(0)

    # ------------------------------------------------------------------------------------- session
    def reset(self, exercise: Exercise, context_morph: str) -> None:
        """Prefill the fixed prefix (off the 4 Hz hot path) and clear the per-session state. The salient joints
        are the exercise's as the caller resolved it (the store's current list, or the clip's reviewed one)."""
        self._wait()
        self.exercise = exercise.key
        self.salient_joints = tuple(exercise.salient_joints)[: self.config.top_k]
        self._selector_fixed = not self.config.selector_trained
        notes = self.provenance["notes"]
        if not self.config.selector_trained and DEFAULT_JOINTS_NOTE not in notes:
            notes.append(DEFAULT_JOINTS_NOTE)
        self.provenance["salient_joints"] = list(self.salient_joints)
        self.provenance["salient_joints_source"] = (
            "DoF selector" if self.config.selector_trained else "the exercise's salient joints"
        )
        self.stats = DecodeStats()
        with torch.inference_mode():
            ids = torch.tensor(encode(self.tokenizer, prefix_text(self.config, exercise.key, context_morph)))
            self.decoder.reset(0)
            self.decoder.append(self.model.embed_ids(ids)[None])
            self._prefix_len = self.decoder.pos
            self._context_morph = context_morph
            morph_ids = torch.tensor(encode(self.tokenizer, context_morph) or [0])
            self._morph = self.model.embed_ids(morph_ids)[None]
            self._vis_state = self.model.backbone.initial_state()
            self._const_z = None
        self._pending = []
        self._context_motion = None
        self._context_violations = ()
        self._reset_due = False
        self._window_steps = 0
        self._pooled = []

    # -------------------------------------------------------------------------------------- visual
    def _frames_tensor(self, frames: NDArray[np.uint8]) -> Tensor:
        return frames_tensor(frames, self.config)

    def _visual_token(self, frames: NDArray[np.uint8] | None) -> Tensor:
        """This step's fused LM token(s), (1, n, hidden)."""
        m = self.model
        assert self._morph is not None and self._vis_state is not None
        if frames is not None and self.config.trained_on_frames is False:
            frames = None  # trained on pose-only sessions: real frames would be inputs it has never seen
            if FRAMES_NOT_USED_NOTE not in self.provenance["notes"]:
                self.provenance["notes"].append(FRAMES_NOT_USED_NOTE)
        if frames is None or len(frames) == 0:
            if self._const_z is None:  # black frames: after the first step the backbone output is constant
                c = self.config
                black = torch.zeros(1, c.frames_per_token, 3, c.frame_height, c.frame_width)
                state = self._vis_state
                for _ in range(max(1, -(-m.backbone.history // c.frames_per_token)) + 1):
                    vis, state = m.backbone.step(black, state)
                self._const_z = m.fuse(vis[:, None], self._morph, None)[0, 0][None]
                if not self._selector_fixed:  # pose-only: nothing for the selector to see
                    self._selector_fixed = True
                    self.provenance["salient_joints_source"] = "the exercise's salient joints"
                    self.provenance["notes"].append(
                        "pose-only input: DoF selector not applied to black frames; the exercise's salient joints used"
                    )
            return self._const_z
        vis, self._vis_state = m.backbone.step(self._frames_tensor(frames), self._vis_state)
        if not self._selector_fixed:
            self._pooled.append(vis.mean(dim=1))
            if len(self._pooled) >= self.config.selector_warmup_steps:  # fix J* for the session (§3.3)
                scores = m.selector(torch.cat(self._pooled).mean(0, keepdim=True))
                top = torch.topk(scores[0], self.config.top_k).indices.tolist()
                self.salient_joints = joint_names_of(top)
                self.provenance["salient_joints"] = list(self.salient_joints)
                self._selector_fixed = True
        return m.fuse(vis[:, None], self._morph, None)[0, 0][None]

    # ------------------------------------------------------------------------------------- decide
    def decide(self, inp: DecisionInput) -> Utterance | None:
        import time

        t0 = time.perf_counter()
        self._wait()  # a background C_motion refresh: in a live 4 Hz session it finished during the gap
        t1 = time.perf_counter()
        with torch.inference_mode():
            out = self._decide(inp)
        self.stats.wait_ms.append((t1 - t0) * 1000)
        self.stats.step_ms.append((time.perf_counter() - t1) * 1000)
        return out

    def _violations(self, inp: DecisionInput) -> tuple[Any, ...]:
        if not inp.reps:
            return ()
        keep = set(self.salient_joints)
        return tuple(v for v in inp.reps[-1].violations if v.joint in keep)

    def _block(self, motion: str) -> Tensor:
        return self.model.embed_ids(torch.tensor(encode(self.tokenizer, motion_block(motion))))

    def _decide(self, inp: DecisionInput) -> Utterance | None:
        dec = self.decoder
        self.stats.steps += 1
        violations = self._violations(inp)
        motion = masked_motion_context(inp.context_motion, violations, self.salient_joints)
        z = self._visual_token(inp.frames)
        parts = list(self._pending)
        first = self._context_motion is None
        if first:  # the session's first C_motion goes before the first visual token
            parts.append(self._block(motion))
            self._context_motion, self._context_violations = motion, violations
            self.stats.refreshes += 1
        parts.append(z[0])
        embeds = torch.cat(parts)[None]
        if self._reset_due or dec.pos + embeds.shape[1] + self.config.max_utterance_tokens + 2 > dec.max_len:
            # Past the window: back to the prefix, then the current C_motion (the visual history is dropped).
            dec.reset(self._prefix_len)
            self._reset_due = False
            self._window_steps = 0
            self.stats.window_resets += 1
            embeds = torch.cat([self._block(motion), z[0]])[None]
            self._context_motion, self._context_violations = motion, violations
        hidden = dec.append(embeds)[0, -1]
        self._pending = []
        action = dec.logits(hidden, self.rows_action)
        said = None
        if bool(action[1] - action[0] > self.config.speak_margin):  # <feedback>; <next> is not fed back (tokens.py)
            text, n = self._speak()
            used = self._context_violations
            evidence = Evidence(
                violations=used,
                rep=inp.reps[-1].index if inp.reps else None,
                phase=inp.phase,
                context_motion=self._context_motion or motion,
            )
            said = Utterance(text=text, n_tokens=max(1, n), kind=_kind(text, used), evidence=evidence)
        self._window_steps += 1
        window = self.config.decode_window_steps
        if window and self._window_steps >= window:
            self._restart_window(motion, violations)  # includes this step's C_motion, refreshed or not
        elif inp.new_reps and not first:
            self._refresh_after_action(motion, violations)
        return said

    def _restart_window(self, motion: str, violations: tuple[Any, ...]) -> None:
        """After ``decode_window_steps`` decisions, start the context again from the prefix and the current
        C_motion, as every training window starts (``workbench.model.train.windows``): the model never saw a
        longer visual history, and past it the trained coach fell silent in long sessions. The ~60-token
        prefill runs in the background, between decisions, like a C_motion refresh."""
        self._pending = []  # the owed action token belongs to the history being dropped
        self._context_motion, self._context_violations = motion, violations
        self._window_steps = 0
        self.stats.window_resets += 1
        self._prefill_in_background(self._block(motion)[None], from_prefix=True)

    def _refresh_after_action(self, motion: str, violations: tuple[Any, ...]) -> None:
        """A cycle completed: append the owed action token and the new C_motion now, in a background thread,
        so the ~50-token prefill runs in the gap before the next decision instead of inside one. The next
        decision waits for it (``_wait``); the layout matches training (``tokens.build_plan``)."""
        tail = torch.cat([*self._pending, self._block(motion)])[None]
        self._pending = []
        self._context_motion, self._context_violations = motion, violations
        self.stats.refreshes += 1
        room = self.config.max_utterance_tokens + 2 + self.config.lm_visual_tokens
        if self.decoder.pos + tail.shape[1] + room > self.decoder.max_len:
            self._reset_due = True  # the next step starts again from the prefix with this C_motion
            return
        self._prefill_in_background(tail, from_prefix=False)

    def _prefill_in_background(self, embeds: Tensor, *, from_prefix: bool) -> None:
        """Append ``embeds`` to the cache (after the prefix alone when ``from_prefix``) in a thread of its own;
        the next decision waits for it (``_wait``), and an error there is raised by that decision."""
        import threading
        import time

        def run() -> None:
            try:
                t0 = time.perf_counter()
                if from_prefix:
                    self.decoder.reset(self._prefix_len)
                self.decoder.append(embeds)
                self.stats.refresh_ms.append((time.perf_counter() - t0) * 1000)
            except BaseException as exc:  # re-raised by the next decision
                self._job_error = exc

        self._job = threading.Thread(target=run, name="coach-prefill")  # not a daemon: finishes before exit
        self._job.start()

    def _wait(self) -> None:
        if self._job is not None:
            self._job.join()
            self._job = None
        if self._job_error is not None:
            exc, self._job_error = self._job_error, None
            raise exc

    def _speak(self) -> tuple[str, int]:
        """Greedy utterance after <feedback>: vocabulary + end token, ≤ max_utterance_tokens."""
        m, dec, c = self.model, self.decoder, self.config
        end_row = c.lm_vocab + c.special_tokens.index(END)
        rows = torch.cat([dec.head_weight, m.special_head.detach().to(dec.dtype)])
        token = m.special_embed[c.special_tokens.index(FEEDBACK)][None]
        spoken: list[int] = []
        guard = self._number_guard()
        run = ""  # the digit run the utterance ends in (NumberGuard)
        while True:
            hidden = dec.append(token[None])[0, -1]
            logits = constrain_utterance_logits(dec.logits(hidden, rows), len(spoken), c)
            if guard is not None:
                logits = guard.constrain(logits, run)
            nxt = int(torch.argmax(logits))
            if nxt == end_row:
                break
            spoken.append(nxt)
            if guard is not None:
                run = guard.after(run, nxt)
            token = m.embed_ids(torch.tensor([nxt]))
        self._pending = [m.special_embed[c.special_tokens.index(END)][None]]
        self.stats.utterance_tokens += len(spoken)
        return self.tokenizer.decode(spoken, skip_special_tokens=True).strip(), len(spoken)

    def _number_guard(self) -> NumberGuard | None:
        """The guard for this utterance's digits, allowing the numbers of the C_motion in the cache (its findings
        or all of it, with C_morph) as ``grounded_numbers`` says; None when it is off."""
        mode = self.config.grounded_numbers
        if mode == "off":
            return None
        motion = self._context_motion or ""
        text = findings(motion) if mode == "findings" else f"{self._context_morph}\n{motion}"
        self.numbers.allow(digit_runs(text))
        return self.numbers


def frames_tensor(frames: NDArray[np.uint8], config: CoachConfig) -> Tensor:
    """The frames since the last step (T×H×W×3, any rate and size) → (1, 4, 3, 224, 160) in [0, 1]: the
    backbone's input, here and in training (``workbench.coach.training_data``)."""
    c = config
    pick = np.linspace(0, len(frames) - 1, c.frames_per_token).round().astype(int)
    x = torch.from_numpy(np.ascontiguousarray(frames[pick])).permute(0, 3, 1, 2).float() / 255.0
    x = torch.nn.functional.interpolate(x, size=(c.frame_height, c.frame_width), mode="bilinear", align_corners=False)
    return x[None]


def auto_threads(probe: Callable[[], object] | None = None, rounds: int = 5) -> int:
    """The torch thread count for the CPU decode. With ``probe`` (one decision step): timed ``rounds`` times
    with one thread and with all cores, interleaved, after a warm-up; the count with the lower median wins.
    Measured rather than guessed, because a one-token step is memory-bound and OpenMP threads wait on each
    other: two threads on a 2-core machine whose other core is busy ran 3-4x slower than one, and the load
    average cannot tell another program's load from this process's own (loading the LM, a previous session).
    Without a probe: all cores when the 1-minute load average leaves them free, else one. Leaves the chosen
    count set."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if probe is not None:
        if cores == 1:
            return 1
        times: dict[int, list[float]] = {1: [], cores: []}
        for i in range(rounds + 1):
            for n in (1, cores) if i % 2 else (cores, 1):
                torch.set_num_threads(n)
                t = time.perf_counter()
                probe()
                if i:  # the first round warms up both counts
                    times[n].append(time.perf_counter() - t)
        best = min(times, key=lambda n: (statistics.median(times[n]), n))
        torch.set_num_threads(best)
        log.info(
            "decode threads: %d (median step %s)",
            best,
            {n: f"{1000 * statistics.median(v):.1f} ms" for n, v in times.items()},
        )
        return best
    try:
        busy = os.getloadavg()[0]
    except OSError:
        return cores
    return cores if busy <= cores - 0.5 else 1


def _kind(text: str, violations: tuple[Any, ...]) -> UtteranceKind:
    if violations:
        return "corrective"
    return "counting" if any(ch.isdigit() for ch in text) and len(text.split()) <= 3 else "instructional"


# ------------------------------------------------------------------------------------------- loading
def load_neural_coach(config: Config) -> NeuralCoach:
    """The neural coach for ``biocoach coach --model neural``: the checkpoint at ``coach_checkpoint`` when
    configured (its config names the LM it was trained with; ``language_model`` overrides the folder), else
    the shipped one (``SHIPPED_CHECKPOINT``), else an untrained model on ``language_model`` or the packaged
    SmolLM2 — said loudly in the provenance. It is told the exercise at every ``reset``."""
    shipped = (SHIPPED_CHECKPOINT / CONFIG_NAME).is_file()
    if config.coach_checkpoint is not None or shipped:
        folder = config.require("coach_checkpoint") if config.coach_checkpoint is not None else SHIPPED_CHECKPOINT
        coach_config = CoachConfig.load(folder)
        lm_path = config.language_model or (Path(coach_config.language_model) if coach_config.language_model else None)
        lm = load_causal_lm(lm_path, cache=config.model_cache_dir)
        model = CoachModel.from_pretrained(folder, lm.model)
        provenance = {
            "model": "neural",
            "checkpoint": str(folder),
            "shipped": config.coach_checkpoint is None,
            "trained": True,
            "language_model": lm.name,
            "training": read_provenance(folder),
            "notes": [],
        }
    else:
        lm = load_causal_lm(config.language_model, cache=config.model_cache_dir)
        coach_config = default_config(lm.model, lm.name, config.language_model)
        model = CoachModel(coach_config, lm.model)
        provenance = {
            "model": "neural",
            "checkpoint": None,
            "trained": False,
            "language_model": lm.name,
            "notes": [UNTRAINED_NOTE],
        }
        log.warning(UNTRAINED_NOTE)
    if config.backbone_checkpoint is not None:
        load_backbone_checkpoint(model.backbone, config.require("backbone_checkpoint"))
        provenance["backbone"] = str(config.backbone_checkpoint)
    else:
        provenance["backbone"] = "random init (no backbone_checkpoint configured)"
    coach = NeuralCoach(model, lm.tokenizer, provenance=provenance)
    return coach


def default_config(lm: Any, lm_name: str, lm_path: Path | None = None, **overrides: Any) -> CoachConfig:
    """A CoachConfig sized for the given LM (CPU defaults otherwise)."""
    base = CoachConfig(
        lm_hidden=int(lm.config.hidden_size),
        lm_vocab=int(lm.get_input_embeddings().weight.shape[0]),
        lm_name=lm_name,
        language_model=str(lm_path) if lm_path else None,
    )
    return replace(base, **overrides)
