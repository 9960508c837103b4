"""The fast path of ``biocoach train`` (issue 19): the same loss and gradients as ``CoachModel.forward`` on a
right-padded batch, computed with far less work. Measured one by one in ``bench/bench_train.py``.

- **Frozen head cached once.** Everything before a window's first visual token — the prompt, exercise and
  C_morph prefix and the window's opening C_motion — contains no trainable input, so its keys and values
  through the frozen LM are computed once under ``torch.no_grad()`` and cached (per distinct head, i.e. once
  per window, reused at every step that draws it). Gradients only need to flow into the fused visual tokens
  and the added tokens, which all come after it.
- **No padding, no dead tail.** Each window runs at its own length (no padded positions in the LM, no
  attention over a batch-wide padded length) and stops at its last labelled position (later tokens cannot
  change the loss of a causal LM). On the CPU one unpadded window per matrix product keeps the products
  large; packing windows into one row would need a block-diagonal mask over the concatenated length.
- **One fused pass over the LM's weights**: q|k|v and gate|up as one matrix each (copies; the shared LM is
  never modified), no weight gradients (the LM's parameters are frozen), logits only at labelled positions
  and the full-vocabulary head once for the whole batch.
- **Constant backbone output.** Pose-only sessions show the frozen backbone black frames: its output is the
  same at every step. It is computed once for the longest window and sliced (the backbone is causal: a
  shorter clip's output is the first steps of a longer one's).
- **bf16** (``TrainSettings.bf16``, ``biocoach train --bf16``): the LM's matrix products in bfloat16 (the
  residual stream, norms, softmax and loss stay fp32). Opt-in: the loss stays within 0.1 % of fp32 but the
  gradient moves by ~8 % (BENCHMARKS.md, "Training speed").

**LoRA** (``biocoach train --lora-rank R``, ``workbench.model.lora``): the low-rank term s·B(A h) is added to the
fused q and v outputs (A and B in fp32, in the graph), so the fast path trains adapters too. The adapted v_proj
makes the head's keys and values depend on trainable weights: with adapters the head is not cached but runs in
the graph (``head="grad"``); padding removal and the fused weights still apply.

The head cache costs 46 KB per head token with SmolLM2-135M in fp32 (~6 MB per window, bounded by
``FastOptions.cache_mb``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor, nn

from workbench.model.configuration_coach import NEXT
from workbench.model.fastlm import _fused, _rope_theta
from workbench.model.lora import is_lora, lora_pair
from workbench.model.modeling_coach import CoachModel, balanced_bce
from workbench.model.tokens import VIS, CoachBatch


@dataclass
class _Block:
    norm1: Tensor
    norm2: Tensor
    qkv: nn.Linear
    o: nn.Linear
    gate_up: nn.Linear
    down: nn.Linear
    # LoRA on q/k/v (workbench.model.lora): (which of q, k, v, A, B, scaling); A and B are the coach's trainable
    # modules themselves (not copies), so each optimiser step is seen by the next pass
    lora: tuple[tuple[int, nn.Linear, nn.Linear, float], ...] = ()


@dataclass
class HeadKV:
    """Keys and values of a frozen head: (layers, 1, kv heads, n, head_dim) each."""

    k: Tensor
    v: Tensor

    @property
    def length(self) -> int:
        return int(self.k.shape[3])

    @property
    def nbytes(self) -> int:
        return self.k.numel() * self.k.element_size() * 2


class FrozenLM:
    """A differentiable forward of a frozen Llama-family LM after a cached, gradient-free head.

    With fp32 it equals the Hugging Face forward to float rounding (tests/unit/test_coach_train_fast.py)."""

    def __init__(self, lm: Any, *, dtype: torch.dtype = torch.float32, max_len: int = 4096, attention: str = "auto"):
        cfg = lm.config
        self.attention = attention
        core = lm.model
        device = core.embed_tokens.weight.device
        self.dtype = dtype
        self.n_heads = int(cfg.num_attention_heads)
        self.n_kv = int(getattr(cfg, "num_key_value_heads", None) or self.n_heads)
        self.head_dim = int(getattr(cfg, "head_dim", None) or cfg.hidden_size // self.n_heads)
        self.inter = int(cfg.intermediate_size)
        self.eps = float(cfg.rms_norm_eps)
        self.blocks: list[_Block] = []
        self.has_lora = False
        for layer in core.layers:
            att, mlp = layer.self_attn, layer.mlp
            if is_lora(att.o_proj):
                raise ValueError("FrozenLM: LoRA on o_proj is not supported by the fast path (q, k, v only)")
            qkv = (att.q_proj, att.k_proj, att.v_proj)
            lora = tuple((j, *lora_pair(m)) for j, m in enumerate(qkv) if is_lora(m))
            self.has_lora = self.has_lora or bool(lora)
            self.blocks.append(
                _Block(
                    norm1=layer.input_layernorm.weight.detach().float().clone(),
                    norm2=layer.post_attention_layernorm.weight.detach().float().clone(),
                    qkv=_fused(*(m.base_layer if is_lora(m) else m for m in qkv)).to(dtype),
                    o=_fused(att.o_proj).to(dtype),
                    gate_up=_fused(mlp.gate_proj, mlp.up_proj).to(dtype),
                    down=_fused(mlp.down_proj).to(dtype),
                    lora=lora,
                )
            )
        self.final_norm = core.norm.weight.detach().float().clone()
        # RoPE as Hugging Face computes it (fp32 inverse frequencies times fp32 positions)
        inv = 1.0 / (_rope_theta(cfg) ** (torch.arange(0, self.head_dim, 2, dtype=torch.int64).float() / self.head_dim))
        freqs = torch.arange(max_len, dtype=torch.float32)[:, None] * inv[None, :]
        emb = torch.cat([freqs, freqs], dim=-1).to(device)
        self.cos, self.sin = emb.cos(), emb.sin()

    def _norm(self, x: Tensor, weight: Tensor) -> Tensor:
        return nn.functional.rms_norm(x.float(), (x.shape[-1],), weight, self.eps)

    def _rotate(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        half = x.shape[-1] // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return (x.float() * cos + rotated.float() * sin).to(x.dtype)

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, hidden: Tensor | None) -> Tensor:
        """Causal attention of q (b, hq, n, d) over k, v (b, hk, L, d). ``math``: the query heads sharing a
        key/value head as one matrix product, softmax in fp32 (the CPU flash kernel with a mask and its
        backward: faster than the CPU flash kernel in bf16, slower in fp32 — ``auto`` picks by dtype)."""
        if self.attention == "sdpa" or (self.attention == "auto" and q.dtype == torch.float32):
            gqa = q.shape[1] != k.shape[1]
            return nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=gqa)
        b, hq, n, d = q.shape
        hk = k.shape[1]
        g = hq // hk
        scores = (q.reshape(b, hk, g * n, d) @ k.transpose(-1, -2)).float() * (d**-0.5)
        if hidden is not None:  # (g·n, L) True where a query must not see a key
            scores = scores.masked_fill(hidden, float("-inf"))
        return (scores.softmax(-1).to(v.dtype) @ v).view(b, hq, n, d)

    def _adapt(self, qkv: Tensor, h: Tensor, lora: tuple[tuple[int, nn.Linear, nn.Linear, float], ...]) -> Tensor:
        """The fused q|k|v output plus the low-rank terms s·B(A h) of the adapted projections (fp32 adapters)."""
        hd = self.head_dim
        parts = list(qkv.split([self.n_heads * hd, self.n_kv * hd, self.n_kv * hd], dim=-1))
        hf = h.float()
        for j, a, b, scale in lora:
            parts[j] = parts[j] + (b(a(hf)) * scale).to(parts[j].dtype)
        return torch.cat(parts, dim=-1)

    def head(self, embeds: Tensor) -> HeadKV:
        """Keys and values of a frozen head (1, n, hidden), computed without a graph."""
        with torch.no_grad():
            _, kv = self._run(embeds, None, want_kv=True)
        assert kv is not None
        return kv

    def forward(self, embeds: Tensor, head: HeadKV | None) -> Tensor:
        """Final-normed hidden states (1, n, hidden) in fp32 of ``embeds`` placed after ``head``."""
        return self._run(embeds, head, want_kv=False)[0]

    def _run(self, embeds: Tensor, head: HeadKV | None, want_kv: bool) -> tuple[Tensor, HeadKV | None]:
        b, n, _ = embeds.shape
        start = head.length if head is not None else 0
        end = start + n
        cos, sin = self.cos[start:end, None], self.sin[start:end, None]
        hq, hk, hd = self.n_heads, self.n_kv, self.head_dim
        mask = None
        if n > 1:  # new token i sees the whole head and the new tokens up to itself
            mask = torch.ones(n, end, dtype=torch.bool, device=embeds.device).tril(diagonal=start)
        hidden = None if mask is None else ~mask.repeat(hq // hk, 1)  # the math attention's mask, built once
        x = embeds.float()  # the residual stream stays fp32; the matrix products run in self.dtype
        ks, vs = [], []
        for i, blk in enumerate(self.blocks):
            h = self._norm(x, blk.norm1).to(self.dtype)
            qkv = blk.qkv(h)
            if blk.lora:
                qkv = self._adapt(qkv, h, blk.lora)
            qkv = qkv.view(b, n, hq + 2 * hk, hd)
            qk = self._rotate(qkv[:, :, : hq + hk], cos, sin).transpose(1, 2)
            q, k = qk[:, :hq], qk[:, hq:]
            v = qkv[:, :, hq + hk :].transpose(1, 2)
            if want_kv:
                ks.append(k)
                vs.append(v)
            if head is not None:
                k = torch.cat([head.k[i], k], dim=2)
                v = torch.cat([head.v[i], v], dim=2)
            att = self._attend(q, k, v, mask, hidden)
            x = x + blk.o(att.transpose(1, 2).reshape(b, n, hq * hd)).float()
            h = self._norm(x, blk.norm2).to(self.dtype)
            gu = blk.gate_up(h)
            x = x + blk.down(nn.functional.silu(gu[..., : self.inter]) * gu[..., self.inter :]).float()
        kv = HeadKV(torch.stack(ks), torch.stack(vs)) if want_kv else None
        return self._norm(x, self.final_norm), kv


@dataclass(frozen=True)
class FastOptions:
    """Each optimisation on its own switch, so the benchmark can measure them one at a time."""

    const_backbone: bool = True  # pose-only: the backbone's output on black frames computed once
    unpadded: bool = True  # each window at its own length, up to its last labelled position
    fused_lm: bool = True  # the LM pass with fused weights and no padding mask (else Hugging Face per window)
    head: str = "cached"  # the frozen head: "grad" (in the graph), "no_grad" (recomputed) or "cached"
    bf16: bool = False  # the LM pass in bfloat16
    cache_mb: int = 4096  # bound on the cached heads' keys and values; beyond it heads are recomputed

    def __post_init__(self) -> None:
        if self.head not in ("grad", "no_grad", "cached"):
            raise ValueError(f"head: expected grad, no_grad or cached, got {self.head!r}")
        if self.head != "grad" and not self.fused_lm:
            raise ValueError("a separate frozen head needs the fused LM pass")


class FastLoss:
    """The stage losses of ``workbench.model.train`` on the fast path, with its caches (one per training run:
    the backbone and the LM are frozen, so what is cached stays valid while the trainable layers change)."""

    def __init__(self, model: CoachModel, options: FastOptions | None = None, max_steps: int = 0):
        """``max_steps``: the most decision steps a window has (the constant backbone output is computed once
        for that many and sliced: the backbone is causal, so a shorter clip's output is its first steps)."""
        self.model = model
        self.max_steps = max_steps
        self.options = options or FastOptions()
        if getattr(model, "lora", None) is not None and self.options.head != "grad":
            # LoRA changes the head's keys/values (v_proj) and queries: the head cannot be frozen or cached
            self.options = replace(self.options, head="grad")
        self._lm: FrozenLM | None = None  # built at the first stage-2 loss (stage 1 does not need it)
        self.heads: dict[bytes, HeadKV] = {}
        self.head_bytes = 0
        self._vis: Tensor | None = None
        # the last stage-2 loss's unweighted cross-entropy per <next> target and per other target (None: no such
        # target), for the training log
        self.last_ce: tuple[float | None, float | None] = (None, None)

    # ------------------------------------------------------------------------------------ pieces
    @property
    def lm(self) -> FrozenLM | None:
        if self._lm is None and self.options.fused_lm:
            self._lm = FrozenLM(self.model.lm, dtype=torch.bfloat16 if self.options.bf16 else torch.float32)
        return self._lm

    def visual_features(self, frames: Tensor | None, batch: int, n_steps: int) -> Tensor:
        if frames is not None or not self.options.const_backbone:
            return self.model.visual_features(frames, batch, n_steps)
        if self._vis is None or self._vis.shape[1] < n_steps:
            self._vis = self.model.visual_features(None, 1, max(n_steps, self.max_steps))
        return self._vis[:, :n_steps].expand(batch, -1, -1, -1)

    def head_kv(self, ids: Tensor) -> HeadKV | None:
        """The frozen head's keys and values (computed without a graph; cached when allowed)."""
        assert self.lm is not None
        if ids.numel() == 0:
            return None
        key = ids.cpu().numpy().tobytes()
        kv = self.heads.get(key)
        if kv is None:
            with torch.no_grad():
                kv = self.lm.head(self.model.embed_ids(ids[None]))
            if self.options.head == "cached" and self.head_bytes + kv.nbytes <= self.options.cache_mb * 2**20:
                self.heads[key] = kv
                self.head_bytes += kv.nbytes
        return kv

    # ------------------------------------------------------------------------------------ losses
    def loss(self, batch: CoachBatch, stage: str, alpha: float) -> Tensor:
        if stage == "1":
            vis = self.visual_features(batch.frames, batch.ids.shape[0], batch.n_steps)
            assert batch.joint_labels is not None
            return balanced_bce(self.model.joint_scores(vis), batch.joint_labels)
        return self.lm_loss(batch, alpha)

    def lm_loss(self, batch: CoachBatch, alpha: float) -> Tensor:
        """``CoachModel.forward(batch, alpha).loss`` (stage 2): Σ w·CE / number of targets."""
        model, o = self.model, self.options
        b = batch.ids.shape[0]
        vis = self.visual_features(batch.frames, b, batch.n_steps)
        z = model.fuse(vis, model.embed_ids(batch.morph_ids), batch.morph_mask)  # (B, S, n, hidden)
        weights = batch.weights.clone()
        weights[batch.labels == model.config.special_id(NEXT)] = alpha
        target = batch.labels >= 0
        if not o.unpadded:  # the padded batch through the Hugging Face LM, as CoachModel.forward does
            embeds = self._embed(batch.ids, z, batch.vis_step, batch.vis_slot)
            hidden = model.lm.model(
                inputs_embeds=embeds.to(model.lm_embedding.weight.dtype), attention_mask=batch.attention_mask
            ).last_hidden_state
            h = hidden[target]
        else:
            parts = []
            for i in range(b):
                where = target[i].nonzero()
                if where.numel() == 0:
                    continue
                end = int(where[-1]) + 1  # nothing after the last labelled position changes the loss
                ids = batch.ids[i, :end]
                vis_at = (ids == VIS).nonzero()
                first = min(int(vis_at[0]) if vis_at.numel() else end, int(where[0]))
                start = 0 if o.head == "grad" else first  # the frozen head: no trainable input before it
                emb = self._embed(
                    ids[None, start:],
                    z[i : i + 1],
                    batch.vis_step[i : i + 1, start:end],
                    batch.vis_slot[i : i + 1, start:end],
                )
                if self.lm is not None:
                    hid = self.lm.forward(emb, self.head_kv(ids[:start]))
                else:
                    hid = model.lm.model(inputs_embeds=emb.to(model.lm_embedding.weight.dtype)).last_hidden_state
                parts.append(hid[0][target[i, start:end]])
            h = torch.cat(parts)
        ce = nn.functional.cross_entropy(
            model.output_logits(h.to(model.special_head.dtype)).float(), batch.labels[target], reduction="none"
        )
        n = max(1, int(target.sum()))
        nxt = batch.labels[target] == model.config.special_id(NEXT)
        with torch.no_grad():
            n_next, n_other = int(nxt.sum()), int((~nxt).sum())
            self.last_ce = (
                float(ce[nxt].sum()) / n_next if n_next else None,
                float(ce[~nxt].sum()) / n_other if n_other else None,
            )
        return (weights[target] * ce).sum() / n

    def _embed(self, ids: Tensor, z: Tensor, vis_step: Tensor, vis_slot: Tensor) -> Tensor:
        """Token embeddings (B, L, hidden) with the fused visual tokens spliced in at the VIS slots."""
        embeds = self.model.embed_ids(ids)
        rows = torch.arange(ids.shape[0], device=ids.device)[:, None].expand_as(ids)
        return torch.where((ids == VIS)[..., None], z[rows, vis_step, vis_slot].to(embeds.dtype), embeds)
