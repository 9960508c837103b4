"""A minimal incremental decoder over a Llama-family causal LM, for the 4 Hz coaching loop.

Why not ``model.generate`` or a plain ``model(...)`` step: on 2 CPU cores one Hugging Face forward step of
SmolLM2-135M costs about 55 ms, mostly Python dispatch across 30 layers and reading 540 MB of fp32 weights
per token. The coaching loop needs one decision every 250 ms with 10× headroom (≤ 25 ms). This decoder

- reads the LM's weights into its own fused copies (q|k|v in one matrix, gate|up in one matrix), so the
  shared LM instance from ``workbench.llm.load_causal_lm`` is never modified; LoRA adapters of a coach trained
  with ``--lora-rank`` are merged into those copies first (W + s·B·A), so int8 quantises the adapted weights
  (``share_weights`` runs the adapted layers as they are);
- optionally stores those copies as int8 weights with per-channel scales (weight-only quantisation,
  ``Int8WeightLinear``), which quarters the bytes read per token — the step is memory-bound;
- keeps a static KV cache of ``max_len`` positions (no reallocation in the hot path), so a fixed prefix is
  prefilled once and each decision appends only the new tokens;
- computes output logits only for the rows asked for (``<next>``/``<feedback>`` at a decision step) instead
  of the 49k-row vocabulary.

All streams of a batch advance in lockstep (same positions), which is what batched decoding across
streams on a GPU needs (``bench/gpu_coach.py``). With ``quantize=False`` and fp32 the hidden states equal
the Hugging Face forward's to float rounding (tests/unit/test_coach_model.py).
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import Tensor, nn

from workbench.model.lora import merged_linear


@dataclass
class _Layer:
    norm1: Tensor
    norm2: Tensor
    qkv: nn.Module
    o: nn.Module
    gate_up: nn.Module
    down: nn.Module


def _fused(*linears: nn.Linear) -> nn.Linear:
    """One Linear whose output is the concatenation of the given Linears' outputs (weights copied)."""
    weight = torch.cat([lin.weight.detach() for lin in linears], dim=0)
    out = nn.Linear(
        weight.shape[1],
        weight.shape[0],
        bias=any(lin.bias is not None for lin in linears),
        device=weight.device,
        dtype=weight.dtype,
    )
    with torch.no_grad():
        out.weight.copy_(weight)
        if out.bias is not None:
            out.bias.copy_(
                torch.cat(
                    [
                        lin.bias.detach()
                        if lin.bias is not None
                        else torch.zeros(lin.out_features, dtype=weight.dtype, device=weight.device)
                        for lin in linears
                    ]
                )
            )
    out.requires_grad_(False)
    return out


class Int8WeightLinear(nn.Module):
    """y = x W^T + b with W stored as int8 per output channel (symmetric) and fp32 scales; activations stay
    in floating point, bf16 inside the product (weight-only quantisation keeps SmolLM2's greedy tokens;
    dynamic activation quantisation does not: its activations have outliers). Uses PyTorch's CPU kernel
    ``_weight_int8pack_mm``."""

    weight: Tensor
    scale: Tensor
    bias: Tensor | None

    def __init__(self, linear: nn.Linear):
        super().__init__()
        w = linear.weight.detach().float()
        scale = w.abs().amax(dim=1).clamp(min=1e-12) / 127.0
        self.register_buffer("weight", torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8))
        self.register_buffer("scale", scale.to(torch.bfloat16).contiguous())
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().float().clone())
        self.out_features = linear.out_features

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        # bf16 activations: the CPU kernel's fast path (its fp32 path is ~20× slower on this machine)
        y = torch._weight_int8pack_mm(x.reshape(-1, shape[-1]).to(torch.bfloat16).contiguous(), self.weight, self.scale)
        y = y.to(x.dtype)
        if self.bias is not None:
            y = y + self.bias
        return y.view(*shape[:-1], self.out_features)


INT4_GROUP = 64  # input channels per int4 scale/zero pair (K = 576 and 1536 for SmolLM2-135M; the kernel takes 32..256)


class Int4WeightLinear(nn.Module):
    """y = x W^T + b with W stored as 4-bit integers, asymmetric per group of ``group`` input channels
    (bf16 scale and zero per group: 4.5 bits a weight with 64-wide groups); bf16 activations as for int8. Uses
    PyTorch's CPU kernels ``_convert_weight_to_int4pack_for_cpu`` / ``_weight_int4pack_mm_for_cpu``. Half the
    bytes of int8 per token: the one-token decision step is memory-bound (BENCHMARKS.md)."""

    weight: Tensor
    scale_zero: Tensor
    bias: Tensor | None

    def __init__(self, linear: nn.Linear, group: int = INT4_GROUP):
        super().__init__()
        w = linear.weight.detach().float()
        n, k = w.shape
        if k % group or group not in (32, 64, 128, 256):
            raise ValueError(f"int4 weights need in_features ({k}) divisible by a group of 32, 64, 128 or 256")
        wg = w.reshape(n, k // group, group)
        low, high = wg.amin(-1, keepdim=True), wg.amax(-1, keepdim=True)
        scale = (high - low).clamp(min=1e-8) / 15.0
        q = torch.round((wg - low) / scale).clamp(0, 15).reshape(n, k).to(torch.int32)
        zero = low + 8.0 * scale  # the kernel computes (q - 8) * scale + zero
        self.register_buffer("weight", torch.ops.aten._convert_weight_to_int4pack_for_cpu(q.contiguous(), 1))
        scale_zero = torch.cat([scale, zero], dim=-1).transpose(0, 1).contiguous()  # (k / group, n, 2)
        self.register_buffer("scale_zero", scale_zero.to(torch.bfloat16))
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().float().clone())
        self.group = group
        self.out_features = n

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        flat = x.reshape(-1, shape[-1]).to(torch.bfloat16).contiguous()
        y = torch._weight_int4pack_mm_for_cpu(flat, self.weight, self.group, self.scale_zero).to(x.dtype)
        if self.bias is not None:
            y = y + self.bias
        return y.view(*shape[:-1], self.out_features)


WEIGHT_FORMATS = ("int4", "int8", "bfloat16", "float32")


class _Concat(nn.Module):
    """The outputs of several Linears side by side, without copying their weights (``share_weights``)."""

    parts: tuple[nn.Module, ...]

    def __init__(self, *linears: nn.Module):
        super().__init__()
        object.__setattr__(self, "parts", linears)  # the LM's own modules, not re-registered here

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([lin(x) for lin in self.parts], dim=-1)


def _rope_theta(config: Any) -> float:
    params = getattr(config, "rope_parameters", None) or {}
    if isinstance(params, dict) and "rope_theta" in params:
        return float(params["rope_theta"])
    return float(getattr(config, "rope_theta", 10000.0))


class FastDecoder:
    """Incremental decoding of ``inputs_embeds`` through a frozen LlamaForCausalLM's layers."""

    def __init__(
        self,
        lm: Any,
        *,
        max_len: int = 1024,
        batch: int = 1,
        quantize: bool | str = False,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
        share_weights: bool = False,
    ):
        cfg = lm.config
        rope = getattr(cfg, "rope_parameters", None) or getattr(cfg, "rope_scaling", None) or {}
        if isinstance(rope, dict) and rope.get("rope_type", "default") not in ("default", None):
            raise ValueError(f"FastDecoder supports default RoPE only; this model uses {rope.get('rope_type')!r}")
        if getattr(cfg, "model_type", "llama") not in ("llama", "mistral", "qwen2"):
            warnings.warn(f"FastDecoder assumes a Llama-style block; got model_type {cfg.model_type!r}", stacklevel=2)
        core = lm.model
        self.device = torch.device(device) if device is not None else core.embed_tokens.weight.device
        self.dtype = dtype or core.embed_tokens.weight.dtype
        self.n_heads = int(cfg.num_attention_heads)
        self.n_kv = int(getattr(cfg, "num_key_value_heads", None) or self.n_heads)
        self.head_dim = int(getattr(cfg, "head_dim", None) or cfg.hidden_size // self.n_heads)
        self.hidden = int(cfg.hidden_size)
        self.inter = int(cfg.intermediate_size)
        self.eps = float(cfg.rms_norm_eps)
        self.max_len = int(max_len)
        self.batch = int(batch)
        # quantize: False (weights in ``dtype``), True or "int8" (int8 per channel), "int4" (int4 per group of 64)
        if quantize not in (False, True, "int8", "int4"):
            raise ValueError(f"quantize must be False, True, 'int8' or 'int4', got {quantize!r}")
        self.quantized = bool(quantize)
        self.weight_format = "int4" if quantize == "int4" else "int8" if quantize else str(self.dtype).split(".")[-1]
        if quantize == "int4" and self.device.type != "cpu":
            raise ValueError("int4 weights use PyTorch's CPU kernel: decode on the CPU, or use int8/bfloat16")
        layers: list[_Layer] = []
        lm_dtype, lm_device = core.embed_tokens.weight.dtype, core.embed_tokens.weight.device
        if share_weights and (quantize or self.dtype != lm_dtype or self.device != lm_device):
            raise ValueError("share_weights needs the LM's own dtype and device, without quantisation")
        for block in core.layers:
            att, mlp = block.self_attn, block.mlp
            if share_weights:  # no copy (a 7B model on one GPU): three/two matrix products instead of one
                layers.append(
                    _Layer(
                        norm1=block.input_layernorm.weight.detach(),
                        norm2=block.post_attention_layernorm.weight.detach(),
                        qkv=_Concat(att.q_proj, att.k_proj, att.v_proj),
                        o=att.o_proj,
                        gate_up=_Concat(mlp.gate_proj, mlp.up_proj),
                        down=mlp.down_proj,
                    )
                )
                continue
            # LoRA adapters (workbench.model.lora) are merged into copies of the weights here, before any
            # fusing or quantisation: the decoder runs the adapted LM, the LM's own weights stay as they are
            mods = nn.ModuleDict(
                {
                    "qkv": _fused(merged_linear(att.q_proj), merged_linear(att.k_proj), merged_linear(att.v_proj)),
                    "o": copy.deepcopy(merged_linear(att.o_proj)),
                    "gate_up": _fused(mlp.gate_proj, mlp.up_proj),
                    "down": copy.deepcopy(mlp.down_proj),
                }
            ).to(device=self.device, dtype=self.dtype)
            if quantize == "int4":
                mods = nn.ModuleDict({k: Int4WeightLinear(cast(nn.Linear, v)) for k, v in mods.items()})
            elif quantize:
                mods = nn.ModuleDict({k: Int8WeightLinear(cast(nn.Linear, v)) for k, v in mods.items()})
            layers.append(
                _Layer(
                    norm1=block.input_layernorm.weight.detach().to(self.device, self.dtype).clone(),
                    norm2=block.post_attention_layernorm.weight.detach().to(self.device, self.dtype).clone(),
                    qkv=mods["qkv"],
                    o=mods["o"],
                    gate_up=mods["gate_up"],
                    down=mods["down"],
                )
            )
        self.layers = layers
        self.final_norm = core.norm.weight.detach().to(self.device, self.dtype).clone()
        self.embed = core.embed_tokens.weight.detach().to(self.device, self.dtype)  # read-only view of the LM's
        head = lm.get_output_embeddings()
        self.head_weight = head.weight.detach().to(self.device, self.dtype)
        inv = 1.0 / (_rope_theta(cfg) ** (torch.arange(0, self.head_dim, 2, dtype=torch.float64) / self.head_dim))
        freqs = torch.outer(torch.arange(self.max_len, dtype=torch.float64), inv)
        emb = torch.cat([freqs, freqs], dim=-1)
        self.cos = emb.cos().to(self.device, self.dtype)
        self.sin = emb.sin().to(self.device, self.dtype)
        shape = (len(layers), self.batch, self.n_kv, self.max_len, self.head_dim)
        self.k_cache = torch.zeros(shape, device=self.device, dtype=self.dtype)
        self.v_cache = torch.zeros(shape, device=self.device, dtype=self.dtype)
        self.pos = 0

    # ------------------------------------------------------------------------------------------ state
    def reset(self, pos: int = 0) -> None:
        """Forget everything after position ``pos`` (0: empty; the prefix length: back to the prefix)."""
        self.pos = int(pos)

    @property
    def room(self) -> int:
        return self.max_len - self.pos

    # ---------------------------------------------------------------------------------------- forward
    def _norm(self, x: Tensor, weight: Tensor) -> Tensor:
        if x.dtype == torch.float32:  # one fused op; Llama's RMSNorm computes in fp32
            return nn.functional.rms_norm(x, (x.shape[-1],), weight, self.eps)
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype) * weight

    def _rotate(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        """RoPE on (…, n, heads, head_dim) with cos/sin of shape (n, 1, head_dim)."""
        half = x.shape[-1] // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * cos + rotated * sin

    @torch.inference_mode()
    def append(self, embeds: Tensor) -> Tensor:
        """Run ``embeds`` (batch × n × hidden) after the cached positions; returns the final-normed hidden
        states (batch × n × hidden) and advances the cache by n."""
        b, n, _ = embeds.shape
        start, end = self.pos, self.pos + n
        if end > self.max_len:
            raise RuntimeError(f"KV cache full: {self.pos} + {n} tokens > max_len {self.max_len}")
        x = embeds.to(self.device, self.dtype)
        cos, sin = self.cos[start:end, None], self.sin[start:end, None]
        hq, hk, hd = self.n_heads, self.n_kv, self.head_dim
        mask = None
        if n > 1:  # new token i sees every cached position and the new tokens up to itself
            mask = torch.ones(n, end, dtype=torch.bool, device=self.device).tril(diagonal=start)
        for i, layer in enumerate(self.layers):
            h = self._norm(x, layer.norm1)
            qkv = layer.qkv(h).view(b, n, hq + 2 * hk, hd)
            qk = self._rotate(qkv[:, :, : hq + hk], cos, sin).transpose(1, 2)  # q and k rotated together
            q, k = qk[:, :hq], qk[:, hq:]
            v = qkv[:, :, hq + hk :].transpose(1, 2)
            self.k_cache[i, :b, :, start:end] = k
            self.v_cache[i, :b, :, start:end] = v
            keys, values = self.k_cache[i, :b, :, :end], self.v_cache[i, :b, :, :end]
            att = nn.functional.scaled_dot_product_attention(q, keys, values, attn_mask=mask, enable_gqa=hq != hk)
            x = x + layer.o(att.transpose(1, 2).reshape(b, n, hq * hd))
            h = self._norm(x, layer.norm2)
            gu = layer.gate_up(h)
            x = x + layer.down(nn.functional.silu(gu[..., : self.inter]) * gu[..., self.inter :])
        self.pos = end
        return self._norm(x, self.final_norm)

    def logits(self, hidden: Tensor, rows: Tensor | None = None) -> Tensor:
        """Output logits of ``hidden`` (… × hidden) for the given head rows only (r × hidden), or the full
        vocabulary when rows is None."""
        weight = self.head_weight if rows is None else rows.to(self.device, self.dtype)
        return hidden.to(weight.dtype) @ weight.T

    def embed_ids(self, ids: Tensor) -> Tensor:
        return self.embed[ids.to(self.device)]
