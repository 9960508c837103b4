"""The BioCoach coaching model: one readable forward pass (paper §3.3, §3.5, §3.6, supplement §11–12).

    frames ─► CausalVisualBackbone (frozen) ─► F_vis (B, S, 35, d)
    F_vis pooled ─► DoFSelector ─► s ∈ [0,1]^24 ─► top-K joints ─► which DoFs enter C_motion
    C_morph ids ─► LM embedding ─► m            z = F_vis + CrossAttn(F_vis, m, m)   (8 heads, residual)
    z ─► pool 35 → lm_visual_tokens ─► Linear(d → LM hidden) ─► spliced into the token sequence
    [prefix, C_motion, z_t, <next> | <feedback> text <eos_fb>, …] ─► frozen causal LM ─► weighted CE

The language model is the shared, frozen instance from ``workbench.llm.load_causal_lm``: it is held by
reference, never registered as a submodule (so it is neither saved with the coach nor switched to train
mode) and never modified. The three added tokens have their own input embeddings and output rows here; the
output logits are the LM head's rows followed by those three rows.

With LoRA (``CoachConfig.extra["lora"]``, ``biocoach train --lora-rank R``; ``workbench.model.lora``) ``self.lm``
is an adapted twin of the shared LM: the same weight tensors, with trainable low-rank adapters on its q/v
projections, registered here under ``lora`` so they are saved and loaded with the coach. The shared LM
(``base_lm``) stays as it was.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from workbench.errors import WorkbenchError
from workbench.model.backbone import CausalVisualBackbone
from workbench.model.configuration_coach import (
    END,
    FEEDBACK,
    NEXT,
    PROVENANCE_NAME,
    WEIGHTS_NAME,
    CoachConfig,
)
from workbench.model.lora import adapted_lm, lora_pair, lora_settings
from workbench.model.tokens import VIS, CoachBatch


class CoachCheckpointError(WorkbenchError):
    """A coach checkpoint is missing files or does not fit the configured language model."""


# --------------------------------------------------------------------------------------- DoF selection
class DoFSelector(nn.Module):
    """A_θ (supplement §11.1): pooled visual features → 24 joint importances in [0, 1]."""

    def __init__(self, config: CoachConfig):
        super().__init__()
        widths = (config.d_vis, *config.selector_hidden)
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(widths):
            layers += [nn.Linear(a, b), nn.ReLU(), nn.Dropout(config.selector_dropout)]
        layers.append(nn.Linear(widths[-1], config.n_joints))
        self.mlp = nn.Sequential(*layers)

    def forward(self, pooled: Tensor) -> Tensor:
        return torch.sigmoid(self.mlp(pooled))


def top_k_joints(scores: Tensor, k: int) -> Tensor:
    """Indices of the k highest-scoring joints (…, k), best first (Eq. 4)."""
    return torch.topk(scores, k, dim=-1).indices


def balanced_bce(scores: Tensor, labels: Tensor, eps: float = 1e-6) -> Tensor:
    """Binary cross-entropy with positives and negatives weighted to contribute equally per sample (salient
    joints are a minority of 24)."""
    labels = labels.float()
    n_pos = labels.sum(-1, keepdim=True).clamp(min=1.0)
    n_neg = (1 - labels).sum(-1, keepdim=True).clamp(min=1.0)
    weight = labels * (0.5 / n_pos) + (1 - labels) * (0.5 / n_neg)
    s = scores.clamp(eps, 1 - eps)
    bce = -(labels * torch.log(s) + (1 - labels) * torch.log(1 - s))
    return (weight * bce).sum(-1).mean()


# ------------------------------------------------------------------------------------------- fusion
class VisionMorphCrossAttention(nn.Module):
    """z = F_vis + CrossAttn(F_vis, m, m) (Eq. 10–11), multi-head, Xavier-uniform init with gain 0.1."""

    def __init__(self, d_vis: int, d_ctx: int, heads: int, gain: float):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(d_vis, d_vis)
        self.k = nn.Linear(d_ctx, d_vis)
        self.v = nn.Linear(d_ctx, d_vis)
        self.o = nn.Linear(d_vis, d_vis)
        for lin in (self.q, self.k, self.v, self.o):
            nn.init.xavier_uniform_(lin.weight, gain=gain)
            nn.init.zeros_(lin.bias)

    def forward(self, vis: Tensor, ctx: Tensor, ctx_mask: Tensor | None = None) -> Tensor:
        """vis (B, N, d_vis), ctx (B, M, d_ctx), ctx_mask (B, M) True where valid → (B, N, d_vis)."""
        b, n, d = vis.shape
        h = self.heads
        q = self.q(vis).view(b, n, h, d // h).transpose(1, 2)
        k = self.k(ctx).view(b, -1, h, d // h).transpose(1, 2)
        v = self.v(ctx).view(b, -1, h, d // h).transpose(1, 2)
        mask = None if ctx_mask is None else ctx_mask[:, None, None, :].bool()
        att = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return vis + self.o(att.transpose(1, 2).reshape(b, n, d))


@dataclass
class CoachOutput:
    loss: Tensor  # Σ w·CE / number of targets (Eq. 15, averaged so batches of different lengths compare)
    ce_next_sum: Tensor  # Σ CE over <next> targets, unweighted: loss(α') − loss(α) = (α' − α)·this / n_targets
    ce_other_sum: Tensor
    n_targets: int
    scores: Tensor  # (B, 24) joint importances from the pooled visual features


# -------------------------------------------------------------------------------------------- model
class CoachModel(nn.Module):
    lm: Any  # the shared frozen causal LM (a transformers model), held by reference

    def __init__(self, config: CoachConfig, lm: Any):
        super().__init__()
        config.check()
        hidden = int(lm.config.hidden_size)
        vocab = int(lm.get_input_embeddings().weight.shape[0])
        if (hidden, vocab) != (config.lm_hidden, config.lm_vocab):
            raise CoachCheckpointError(
                f"the coach was configured for a language model with hidden size {config.lm_hidden} and "
                f"vocabulary {config.lm_vocab} ({config.lm_name or 'unnamed'}), but the loaded model has "
                f"hidden size {hidden} and vocabulary {vocab}: load it with the language model it was trained with"
            )
        self.config = config
        object.__setattr__(self, "base_lm", lm)  # the shared LM as loaded, never modified
        self.lora: nn.ModuleDict | None = None
        settings = lora_settings(config)
        if settings is not None:  # a twin of the LM sharing its tensors, with adapters on q/v (workbench.model.lora)
            lm, layers = adapted_lm(lm, settings)
            self.lora = nn.ModuleDict(
                {
                    name.replace(".", "__"): nn.ModuleDict({"A": lora_pair(m)[0], "B": lora_pair(m)[1]})
                    for name, m in layers.items()
                }
            )
        object.__setattr__(self, "lm", lm)  # held by reference: not a submodule, never saved or trained
        self.backbone = CausalVisualBackbone(config)
        self.selector = DoFSelector(config)
        self.fusion = VisionMorphCrossAttention(config.d_vis, hidden, config.fusion_heads, config.fusion_init_gain)
        self.project = nn.Linear(config.d_vis, hidden)
        # New tokens: input embeddings start at the mean LM embedding (a neutral point of its input space);
        # output rows start at zero so the untrained model's text distribution is the LM's own.
        mean = lm.get_input_embeddings().weight.detach().float().mean(0)
        self.special_embed = nn.Parameter(mean.repeat(len(config.special_tokens), 1).clone())
        self.special_head = nn.Parameter(torch.zeros(len(config.special_tokens), hidden))
        self.backbone.requires_grad_(False)  # frozen (§3.6): a published checkpoint or fixed random init

    # --------------------------------------------------------------------------------- pieces
    @property
    def lm_embedding(self) -> nn.Embedding:
        return self.lm.get_input_embeddings()  # type: ignore[no-any-return]

    def embed_ids(self, ids: Tensor) -> Tensor:
        """Token ids (LM vocabulary or the added tokens) → LM input embeddings; VIS slots give zeros."""
        v = self.config.lm_vocab
        base = self.lm_embedding(ids.clamp(0, v - 1)).to(self.special_embed.dtype)
        special = self.special_embed[(ids - v).clamp(0, len(self.config.special_tokens) - 1)]
        out = torch.where((ids >= v)[..., None], special, base)
        return torch.where((ids == VIS)[..., None], torch.zeros_like(out), out)

    def visual_features(self, frames: Tensor | None, batch: int, n_steps: int) -> Tensor:
        """F_vis (B, S, 35, d). Without frames (pose-only data) the backbone sees black frames."""
        with torch.no_grad():
            if frames is not None:
                return self.backbone(frames)
            c = self.config
            p = self.special_head
            zeros = torch.zeros(
                1, n_steps * c.frames_per_token, 3, c.frame_height, c.frame_width, device=p.device, dtype=p.dtype
            )
            return self.backbone(zeros).expand(batch, -1, -1, -1)

    def joint_scores(self, vis: Tensor) -> Tensor:
        """s (Eq. 3) from visual features pooled over tokens and steps: (B, S, 35, d) → (B, 24)."""
        return self.selector(vis.mean(dim=(1, 2)))

    def fuse(self, vis: Tensor, morph: Tensor, morph_mask: Tensor | None) -> Tensor:
        """(B, S, 35, d) visual, (B, M, hidden) morph embeddings → LM tokens (B, S, lm_visual_tokens, hidden)."""
        b, s, n, d = vis.shape
        flat = vis.reshape(b, s * n, d)
        z = self.fusion(flat, morph, morph_mask).reshape(b * s, n, d)
        pooled = nn.functional.adaptive_avg_pool1d(z.transpose(1, 2), self.config.lm_visual_tokens).transpose(1, 2)
        return self.project(pooled).view(b, s, self.config.lm_visual_tokens, -1)

    def output_logits(self, hidden: Tensor) -> Tensor:
        """(…, hidden) → (…, vocab + 3): the LM head's rows, then the added tokens' rows."""
        base = self.lm.get_output_embeddings()(hidden.to(self.lm_embedding.weight.dtype)).to(hidden.dtype)
        return torch.cat([base, hidden @ self.special_head.T], dim=-1)

    # ----------------------------------------------------------------------------- the forward pass
    def forward(self, batch: CoachBatch, alpha: float | None = None) -> CoachOutput:
        b, length = batch.ids.shape
        vis = self.visual_features(batch.frames, b, batch.n_steps)  # frozen backbone
        scores = self.joint_scores(vis)
        morph = self.embed_ids(batch.morph_ids)
        z = self.fuse(vis, morph, batch.morph_mask)  # (B, S, n, hidden)
        embeds = self.embed_ids(batch.ids)
        is_vis = (batch.ids == VIS)[..., None]
        rows = torch.arange(b, device=z.device)[:, None].expand(b, length)
        embeds = torch.where(is_vis, z[rows, batch.vis_step, batch.vis_slot].to(embeds.dtype), embeds)
        hidden = self.lm.model(
            inputs_embeds=embeds.to(self.lm_embedding.weight.dtype), attention_mask=batch.attention_mask
        ).last_hidden_state
        # Only positions with a label need logits (a full 49k-row head at every position would dominate memory).
        weights = batch.weights.clone()
        if alpha is not None:
            weights[batch.labels == self.config.special_id(NEXT)] = alpha
        target = batch.labels >= 0
        h = hidden[target].to(self.special_head.dtype)
        ids = batch.labels[target]
        w = weights[target]
        ce = nn.functional.cross_entropy(self.output_logits(h).float(), ids, reduction="none")
        n = max(1, int(target.sum()))
        nxt = ids == self.config.special_id(NEXT)
        return CoachOutput(
            loss=(w * ce).sum() / n, ce_next_sum=ce[nxt].sum(), ce_other_sum=ce[~nxt].sum(), n_targets=n, scores=scores
        )

    # ------------------------------------------------------------------------------ save / load
    def trainable_state(self) -> dict[str, Tensor]:
        return {k: v.detach().contiguous() for k, v in self.state_dict().items()}

    def save_pretrained(self, folder: Path, provenance: dict[str, Any] | None = None) -> None:
        """config JSON + safetensors weights (everything but the LM) + provenance JSON, written atomically."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.config.save(folder)
        tmp = folder / f".{WEIGHTS_NAME}.tmp"
        save_file(self.trainable_state(), str(tmp), metadata={"format": "pt"})
        tmp.replace(folder / WEIGHTS_NAME)
        if provenance is not None:
            (folder / PROVENANCE_NAME).write_text(
                json.dumps(provenance, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
            )

    @classmethod
    def from_pretrained(cls, folder: Path, lm: Any) -> CoachModel:
        from safetensors.torch import load_file

        folder = Path(folder)
        config = CoachConfig.load(folder)
        weights = folder / WEIGHTS_NAME
        if not weights.is_file():
            raise CoachCheckpointError(
                f"{folder}: expected the coach weights {WEIGHTS_NAME} next to the config, but the file is missing"
            )
        model = cls(config, lm)
        state = load_file(str(weights))
        want = model.state_dict()
        bad = sorted(set(want) ^ set(state)) + [k for k in want if k in state and want[k].shape != state[k].shape]
        if bad:
            raise CoachCheckpointError(
                f"{weights}: tensors do not match the configuration in {folder.name}: {', '.join(bad[:5])}"
            )
        model.load_state_dict(state)
        model.eval()
        return model

    def special_ids(self) -> dict[str, int]:
        return {t: self.config.special_id(t) for t in (NEXT, FEEDBACK, END)}


def read_provenance(folder: Path) -> dict[str, Any]:
    path = Path(folder) / PROVENANCE_NAME
    if not path.is_file():
        return {}
    return dict(json.loads(path.read_text(encoding="utf-8")))


# ------------------------------------------------------------------------------ constrained decoding
def action_rows(config: CoachConfig) -> list[int]:
    """Outside an utterance the model may only emit these: [<next>, <feedback>]."""
    return [config.special_id(NEXT), config.special_id(FEEDBACK)]


def constrain_utterance_logits(logits: Tensor, n_spoken: int, config: CoachConfig) -> Tensor:
    """Inside an utterance: never <next>/<feedback>; the end token is forced once max_utterance_tokens were
    spoken. ``logits`` covers vocab + 3 rows."""
    out = logits.clone()
    out[..., config.special_id(NEXT)] = float("-inf")
    out[..., config.special_id(FEEDBACK)] = float("-inf")
    if n_spoken >= config.max_utterance_tokens:
        end = out[..., config.special_id(END)].clone()
        out.fill_(float("-inf"))
        out[..., config.special_id(END)] = end if torch.isfinite(end).all() else 0.0
    return out
