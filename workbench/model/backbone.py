"""The visual backbone: a small causal 2D+3D CNN with the Stream-VLM interface.

224×160 RGB frames at 16 fps in; every ``frames_per_token`` (4) frames one step of 7×5 = 35 tokens × d out,
i.e. 4 Hz. 2D convolutions (five stride-2 layers) see one frame at a time; 3D convolutions over time are
causal: padded on the left only, so a token never depends on a later frame (tests check it by changing
future frames). ``step`` processes one token's worth of frames with a small carried state and gives exactly
what ``forward`` gives on the whole clip.

The weights of the published Stream-VLM backbone are not redistributable: a user points
``backbone_checkpoint`` at a safetensors file whose tensor names and shapes match this module's
``state_dict()``; anything else fails with a message listing expected vs got.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import torch
from torch import Tensor, nn

from workbench.errors import WorkbenchError
from workbench.model.configuration_coach import CoachConfig


class BackboneCheckpointError(WorkbenchError):
    """A backbone checkpoint's tensors do not match the configured architecture."""


class CausalVisualBackbone(nn.Module):
    def __init__(self, config: CoachConfig):
        super().__init__()
        self.config = config
        widths = (3, *config.backbone_channels, config.d_vis)
        layers: list[nn.Module] = []
        for c_in, c_out in itertools.pairwise(widths):
            layers += [nn.Conv2d(c_in, c_out, kernel_size=3, stride=2, padding=1), nn.ReLU()]
        self.spatial = nn.Sequential(*layers[:-1])  # no ReLU after the last 2D layer: the 3D layers follow
        self.temporal = nn.ModuleList(
            nn.Conv3d(config.d_vis, config.d_vis, kernel_size=(config.temporal_kernel, 1, 1))
            for _ in range(config.temporal_layers)
        )
        # frames before the current step that a token depends on (zeros before the clip starts)
        self.history = config.temporal_layers * (config.temporal_kernel - 1)

    def _frames_2d(self, frames: Tensor) -> Tensor:
        """(B, T, 3, H, W) in [0, 1] → (B, d, T, h, w)."""
        b, t = frames.shape[:2]
        x = self.spatial((frames.flatten(0, 1) - 0.45) / 0.225)
        return x.view(b, t, *x.shape[1:]).transpose(1, 2)

    def _temporal(self, x: Tensor) -> Tensor:
        """Causal 3D layers over (B, d, history + T, h, w): returns the last T frames, (B, d, T, h, w)."""
        k = self.config.temporal_kernel
        for conv in self.temporal:
            x = torch.relu(conv(x)) + x[:, :, k - 1 :]  # valid convolution: the sequence shortens by k − 1
        return x

    def _tokens(self, x: Tensor) -> Tensor:
        """(B, d, T, h, w) → (B, T / frames_per_token, h·w, d): each token step averages its frames."""
        b, d, t, h, w = x.shape
        f = self.config.frames_per_token
        x = x.view(b, d, t // f, f, h, w).mean(dim=3)
        return x.flatten(3).permute(0, 2, 3, 1)

    def forward(self, frames: Tensor) -> Tensor:
        """A whole clip: (B, T, 3, H, W) with T a multiple of frames_per_token → (B, T/4, 35, d)."""
        self._check(frames)
        x = self._frames_2d(frames)
        x = nn.functional.pad(x, (0, 0, 0, 0, self.history, 0))  # zeros before the clip: causal
        return self._tokens(self._temporal(x))

    def initial_state(self, batch: int = 1) -> Tensor:
        h, w = self.config.grid
        p = next(self.parameters())
        return torch.zeros(batch, self.config.d_vis, self.history, h, w, device=p.device, dtype=p.dtype)

    def step(self, frames: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        """One token step: (B, 4, 3, H, W) and the carried state → ((B, 35, d), new state)."""
        self._check(frames)
        x = torch.cat([state, self._frames_2d(frames)], dim=2)
        out = self._tokens(self._temporal(x))
        return out[:, -1], x[:, :, x.shape[2] - self.history :]

    def _check(self, frames: Tensor) -> None:
        c = self.config
        want = (3, c.frame_height, c.frame_width)
        if frames.dim() != 5 or tuple(frames.shape[2:]) != want or frames.shape[1] % c.frames_per_token:
            raise ValueError(
                f"backbone input: expected (batch, T, {want[0]}, {want[1]}, {want[2]}) with T a multiple "
                f"of {c.frames_per_token}, got {tuple(frames.shape)}"
            )


def load_backbone_checkpoint(backbone: CausalVisualBackbone, path: Path) -> None:
    """Load user-supplied backbone weights (safetensors), failing clearly when the architecture differs.

    Tensor names may carry a ``backbone.`` or ``visual.`` prefix (how the weights sit inside a larger model).
    """
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise BackboneCheckpointError(
            f"backbone_checkpoint: expected a safetensors file at {path}, but it does not exist"
        )
    try:
        raw = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for a corrupt header
        raise BackboneCheckpointError(f"backbone_checkpoint {path}: not a readable safetensors file ({exc})") from None
    got = {_strip(k): v for k, v in raw.items()}
    want = backbone.state_dict()
    missing = sorted(set(want) - set(got))
    unexpected = sorted(set(got) - set(want))
    shapes = [
        f"{k}: expected {tuple(want[k].shape)}, got {tuple(got[k].shape)}"
        for k in sorted(set(want) & set(got))
        if tuple(want[k].shape) != tuple(got[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensor(s) (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected tensor(s) (e.g. {', '.join(unexpected[:3])})")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatch(es): {'; '.join(shapes[:3])}")
        raise BackboneCheckpointError(
            f"backbone_checkpoint {path} does not match the configured backbone (d_vis={backbone.config.d_vis}, "
            f"channels={list(backbone.config.backbone_channels)}, temporal_layers="
            f"{backbone.config.temporal_layers}): {'; '.join(parts)}. Expected {len(want)} tensors named like "
            f"{', '.join(list(want)[:2])}; got {len(got)}"
        )
    backbone.load_state_dict({k: got[k].to(want[k].dtype) for k in want})


def _strip(name: str) -> str:
    for prefix in ("backbone.", "visual."):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name
