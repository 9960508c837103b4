"""LoRA adapters on the coach's language model (issue 19, ``biocoach train --lora-rank R``), through ``peft``.

- **Where**: the attention's query and value projections (``q_proj``, ``v_proj``) of every layer of a
  Llama-family LM — the choice of the LoRA paper (Hu et al. 2021, §7.1) — rank R, scale α / R (``--lora-alpha``,
  default 2R), no dropout, B initialised to zero (so an untrained adapter leaves the LM's outputs unchanged).
- **The shared LM is never modified.** ``workbench.llm.load_causal_lm`` hands one instance to the whole
  process; the adapters go into a *structural copy* of it (``adapted_lm``): new module objects whose parameters
  and buffers are the original tensors (shared, not copied — no extra memory), with peft's LoRA layers
  injected into the copy's q/v projections. The base weights stay bit-identical and frozen; only A and B train.
- **Saved with the coach**: the A/B matrices are registered under ``CoachModel.lora`` too, so they are part of
  the coach's trainable state (``coach.safetensors``, a few hundred KB at rank 8 on SmolLM2-135M) and restored by
  ``CoachModel.from_pretrained``. The settings live in ``CoachConfig.extra["lora"]``.
- **Decoding**: ``merged_linear`` gives a plain ``nn.Linear`` with W + s·B·A (a copy) for the streaming
  decoder (``workbench.model.fastlm.FastDecoder``), which then fuses and quantises it like any other weight.

``peft`` is imported only when an adapter is asked for (its import costs seconds).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

LORA_TARGETS = ("q_proj", "v_proj")
ADAPTER = "default"  # peft's adapter name


@dataclass(frozen=True)
class LoraSettings:
    rank: int
    alpha: float
    targets: tuple[str, ...] = LORA_TARGETS

    @property
    def scaling(self) -> float:
        return self.alpha / self.rank

    def to_json(self) -> dict[str, Any]:
        return {"rank": self.rank, "alpha": self.alpha, "targets": list(self.targets)}


def lora_settings(config: Any) -> LoraSettings | None:
    """The LoRA settings of a ``CoachConfig`` (``extra["lora"]``), None without adapters (rank 0)."""
    raw = (getattr(config, "extra", None) or {}).get("lora")
    if not raw or int(raw.get("rank", 0)) <= 0:
        return None
    targets = tuple(raw.get("targets") or LORA_TARGETS)
    unknown = sorted(set(targets) - {"q_proj", "k_proj", "v_proj", "o_proj"})
    if unknown:
        raise ValueError(f"LoRA targets: expected attention projections q/k/v/o_proj, got {unknown}")
    rank = int(raw["rank"])
    return LoraSettings(rank=rank, alpha=float(raw.get("alpha") or 2 * rank), targets=targets)


def with_lora(config: Any, rank: int, alpha: float | None = None) -> Any:
    """``config`` with LoRA settings (rank 0: without any)."""
    from dataclasses import replace

    extra = {k: v for k, v in (config.extra or {}).items() if k != "lora"}
    if rank < 0:
        raise ValueError(f"LoRA rank: expected 0 (no adapters) or a positive rank, got {rank}")
    if alpha is not None and alpha <= 0:
        raise ValueError(f"LoRA alpha: expected a positive number, got {alpha}")
    if rank > 0:
        extra["lora"] = LoraSettings(rank, float(alpha if alpha is not None else 2 * rank)).to_json()
    return replace(config, extra=extra)


def adapted_lm(lm: Any, settings: LoraSettings) -> tuple[Any, dict[str, nn.Module]]:
    """A copy of ``lm``'s module tree sharing every parameter and buffer with it, with LoRA layers on the
    target projections. Returns (the adapted LM, {module path: peft LoRA layer})."""
    from peft import LoraConfig, inject_adapter_in_model

    shared = {id(t): t for t in [*lm.parameters(), *lm.buffers()]}
    twin = copy.deepcopy(lm, shared)  # new modules, the same tensors
    cfg = LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,  # type: ignore[arg-type]  # typed int; peft only divides it by r
        target_modules=list(settings.targets),
        lora_dropout=0.0,
        bias="none",
    )
    twin = inject_adapter_in_model(cfg, twin)
    layers = {name: mod for name, mod in twin.named_modules() if is_lora(mod)}
    if not layers:
        raise ValueError(f"LoRA: the language model has no {' / '.join(settings.targets)} modules to adapt")
    for p in twin.parameters():
        p.requires_grad_(False)  # the base weights stay frozen; the coach's stage 2 switches A and B on
    twin.eval()
    return twin, layers


def is_lora(module: Any) -> bool:
    return hasattr(module, "lora_A") and hasattr(module, "base_layer") and ADAPTER in getattr(module, "lora_A", {})


def lora_pair(module: Any) -> tuple[nn.Linear, nn.Linear, float]:
    """(A, B, scaling) of a peft LoRA layer."""
    return module.lora_A[ADAPTER], module.lora_B[ADAPTER], float(module.scaling[ADAPTER])


def delta_weight(module: Any) -> Tensor:
    """s·B·A, the adapter's change to the layer's weight (out × in), in fp32."""
    a, b, s = lora_pair(module)
    return (b.weight.detach().float() @ a.weight.detach().float()) * s


def merged_linear(module: Any) -> nn.Linear:
    """A plain ``nn.Linear`` equal to the layer: a LoRA layer's base weight plus its adapter (a copy; the
    LM's own weight is not touched), or the layer itself when it has no adapter."""
    if not is_lora(module):
        return module  # type: ignore[no-any-return]
    base = module.base_layer
    w = base.weight
    out = nn.Linear(base.in_features, base.out_features, bias=base.bias is not None, device=w.device, dtype=w.dtype)
    with torch.no_grad():
        out.weight.copy_((base.weight.detach().float() + delta_weight(module)).to(base.weight.dtype))
        if base.bias is not None:
            out.bias.copy_(base.bias.detach())
    out.requires_grad_(False)
    return out
