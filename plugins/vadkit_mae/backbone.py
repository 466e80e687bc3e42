"""A small vision transformer over short clips, built from timm's layers, with MAE-style masking."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from einops import rearrange
from timm.layers import PatchEmbed
from timm.layers.pos_embed_sincos import build_sincos2d_pos_embed
from timm.models.vision_transformer import Block, init_weights_vit_jax, init_weights_vit_timm
from torch import Tensor, nn

from vadkit.components import Backbone, ClipShape
from vadkit.errors import ConfigError


class MaskedViT(Backbone):
    """A small ViT over clips of ``frames`` frames stacked as channels, with MAE-style masking.

    Encoder: the T frames of a clip ``(B, C, T, H, W)`` are stacked as the ``C*T`` channels of
    one image, cut into ``patch_size`` x ``patch_size`` patches by timm's ``PatchEmbed`` (a
    token of width ``dim`` per patch carries the patch's whole recent history, as AED-MAE's
    frame stack does), added to fixed 2-D sine-cosine positions (any H, W divisible by the
    patch size), then ``depth`` timm ViT blocks (``Block``) and a LayerNorm. In training mode a
    fraction ``mask_ratio`` of the tokens of each clip, drawn at random, is replaced by a
    learned mask token before the blocks (SimMIM-style masking: every token stays in the
    sequence, so the latent keeps its shape); eval mode never masks, so scoring is
    deterministic. The latent is the token grid as a feature map ``(B, dim, H/p, W/p)``.

    Decoder: ``decoder_depth`` more timm blocks, a LayerNorm and a linear layer from each
    token to its patch in all T frames; :meth:`decode` returns the clip ``(B, C, T, H, W)``
    before the output tanh (what a reconstruction task such as ``vcr`` reads). The ``mfp``
    task does not read it: it predicts the next frame from the latent, so a run with only
    ``mfp`` never runs the decoder.

    Clips need exactly ``frames`` frames (the patch embedding's channels are ``C * frames``:
    set ``model.params.frames`` to ``data.clip_length``) and H, W divisible by ``patch_size``.

    Parameters:
        in_channels: channels C of the input frames (1 = grayscale, 3 = colour).
        frames: clip length T the model takes (``data.clip_length``).
        patch_size: side p of the square patches, in pixels.
        dim: token width.
        depth: encoder blocks.
        heads: attention heads per block (``dim`` must be divisible by it).
        mlp_ratio: hidden width of each block's MLP, as a multiple of ``dim``.
        mask_ratio: fraction of tokens masked per clip in training, in [0, 1) (0: no masking).
        decoder_depth: blocks of the clip decoder (0: a linear layer only).
        init: initialisation of the linear layers: ``"timm"``, timm's ViT one (truncated
            normal, std 0.02, zero biases), or ``"mae"``, MAE's (Xavier uniform, zero biases).
            Either way the patch embedding is Xavier-initialised as a linear layer, as in MAE.

    Reference: Ristea et al., CVPR 2024 (AED-MAE); He et al., CVPR 2022 (MAE); Xie et al.,
    CVPR 2022 (SimMIM); timm (Wightman) for the ViT layers.
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        frames: int = 8,
        patch_size: int = 8,
        dim: int = 128,
        depth: int = 6,
        heads: int = 4,
        mlp_ratio: float = 4.0,
        mask_ratio: float = 0.0,
        decoder_depth: int = 1,
        init: str = "timm",
    ) -> None:
        super().__init__()
        self.in_channels = _positive("in_channels", in_channels, "1 for grayscale, 3 for colour")
        self.frames = _positive("frames", frames, "the clip length, data.clip_length")
        self.patch_size = _positive("patch_size", patch_size, "e.g. 8 for 64 x 64 frames")
        self.dim = _positive("dim", dim, "e.g. 128")
        self.depth = _positive("depth", depth, "e.g. 6")
        self.heads = _positive("heads", heads, "e.g. 4")
        if self.dim % self.heads:
            raise ConfigError(
                f"mae_vit: dim {dim} is not divisible by heads {heads}.",
                hint="Pick heads that divide dim, e.g. dim = 128 with heads = 4.",
            )
        self.mlp_ratio = _number("mlp_ratio", mlp_ratio, low=0.0, closed=False)
        self.mask_ratio = _number("mask_ratio", mask_ratio, low=0.0, high=1.0)
        self.decoder_depth = _count("decoder_depth", decoder_depth)
        if init not in _INITS:
            raise ConfigError(
                f"mae_vit: init must be one of {', '.join(map(repr, _INITS))}, not {init!r}.",
                hint='Use "timm" (truncated normal, std 0.02) or "mae" (Xavier uniform).',
            )
        self.init = init

        c, p = self.in_channels, self.patch_size
        self.patch_embed = PatchEmbed(
            img_size=None, patch_size=p, in_chans=c * self.frames, embed_dim=self.dim
        )
        self.mask_token = nn.Parameter(torch.zeros(1, 1, self.dim)) if self.mask_ratio else None
        self.blocks = nn.Sequential(*(self._block() for _ in range(self.depth)))
        self.norm = nn.LayerNorm(self.dim)
        self.decoder = nn.Sequential(*(self._block() for _ in range(self.decoder_depth)))
        self.decoder_norm = nn.LayerNorm(self.dim)
        self.decoder_pred = nn.Linear(self.dim, c * self.frames * p * p)
        self.apply(_INITS[self.init])
        proj = self.patch_embed.proj.weight  # initialised as a linear layer, as MAE does
        nn.init.xavier_uniform_(proj.view(proj.shape[0], -1))
        if self.mask_token is not None:
            nn.init.normal_(self.mask_token, std=0.02)

    def _block(self) -> nn.Module:
        return Block(self.dim, self.heads, mlp_ratio=self.mlp_ratio, qkv_bias=True)

    def _positions(self, grid: tuple[int, int], like: Tensor) -> Tensor:
        """Fixed 2-D sine-cosine position embeddings ``(1, gh*gw, dim)`` of a token grid,
        computed in float32 and given ``like``'s dtype."""
        pos = build_sincos2d_pos_embed(list(grid), self.dim, device=like.device)
        return pos.to(like.dtype).unsqueeze(0)

    def _mask(self, tokens: Tensor) -> Tensor:
        """Replace ``round(mask_ratio * N)`` random tokens of each clip by the mask token."""
        assert self.mask_token is not None
        b, n, _ = tokens.shape
        hidden = round(self.mask_ratio * n)
        if hidden == 0:
            return tokens
        rank = torch.rand(b, n, device=tokens.device).argsort(dim=1).argsort(dim=1)
        masked = (rank < hidden).unsqueeze(-1)
        return torch.where(masked, self.mask_token.to(tokens.dtype).expand_as(tokens), tokens)

    def encode(self, clip: Tensor) -> Tensor:
        """``(B, C, T, H, W)`` -> latent token map ``(B, dim, H/p, W/p)``."""
        h, w = clip.shape[-2] // self.patch_size, clip.shape[-1] // self.patch_size
        stacked = rearrange(clip, "b c t h w -> b (c t) h w")
        tokens = self.patch_embed(stacked)  # (B, N, dim)
        if self.training and self.mask_token is not None:
            tokens = self._mask(tokens)
        tokens = self.norm(self.blocks(tokens + self._positions((h, w), tokens)))
        return rearrange(tokens, "b (h w) d -> b d h w", h=h, w=w)

    def decode(self, latent: Tensor) -> Tensor:
        """Latent -> the clip ``(B, C, T, H, W)``, before the output activation (tanh)."""
        h, w = latent.shape[-2:]
        tokens = rearrange(latent, "b d h w -> b (h w) d")
        if self.decoder_depth:
            tokens = self.decoder(tokens + self._positions((h, w), tokens))
        patches = self.decoder_pred(self.decoder_norm(tokens))
        return rearrange(
            patches,
            "b (h w) (c t p q) -> b c t (h p) (w q)",
            h=h,
            w=w,
            c=self.in_channels,
            t=self.frames,
            p=self.patch_size,
            q=self.patch_size,
        )

    def check_clip_shape(self, clip_shape: ClipShape) -> None:
        """Raise :class:`ConfigError` unless the clip has ``in_channels`` channels, ``frames``
        frames and H, W divisible by ``patch_size``."""
        shape = tuple(clip_shape)
        if len(shape) != 4:
            raise ConfigError(
                f"mae_vit expects a clip shape (C, T, H, W); got {shape!r}.",
                hint="Give four numbers: channels, frames, height, width, e.g. (1, 3, 64, 64).",
            )
        super().check_clip_shape(clip_shape)
        _, t, h, w = shape
        if t != self.frames:
            raise ConfigError(
                f"mae_vit takes clips of model.params.frames = {self.frames} frames, not {t} "
                "(data.clip_length).",
                hint=f"Set both to the same number, e.g. --set data.clip_length={t} "
                f"--set model.params.frames={t}.",
            )
        p = self.patch_size
        if h <= 0 or w <= 0 or h % p or w % p:
            raise ConfigError(
                f"mae_vit cannot cut frames of {h} x {w} pixels into {p} x {p} patches.",
                hint=f"Use a frame size divisible by {p} (data.size), or another "
                "model.params.patch_size.",
            )

    def latent_shape(self, clip_shape: ClipShape) -> tuple[int, ...]:
        """``(dim, H/p, W/p)`` for clips of ``clip_shape`` ``(C, T, H, W)``."""
        self.check_clip_shape(clip_shape)
        _, _, h, w = clip_shape
        return (self.dim, h // self.patch_size, w // self.patch_size)

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, frames={self.frames}, "
            f"patch_size={self.patch_size}, dim={self.dim}, depth={self.depth}, "
            f"heads={self.heads}, mlp_ratio={self.mlp_ratio}, mask_ratio={self.mask_ratio}, "
            f"decoder_depth={self.decoder_depth}, init={self.init!r}"
        )


#: Initialisations of the linear layers, by name. timm's JAX-style init applied without module
#: names is MAE's: Xavier-uniform weights, zero biases.
_INITS: dict[str, Callable[[nn.Module], None]] = {
    "timm": init_weights_vit_timm,
    "mae": init_weights_vit_jax,
}


def _positive(name: str, value: object, example: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"mae_vit: {name} must be a positive integer, not {value!r}.",
            hint=f"Set model.params.{name} to a whole number >= 1 ({example}).",
        )
    return value


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(
            f"mae_vit: {name} must be an integer >= 0, not {value!r}.",
            hint=f"Set model.params.{name} to 0, 1, 2, ...",
        )
    return value


def _number(
    name: str, value: object, *, low: float, high: float = math.inf, closed: bool = True
) -> float:
    """A finite number in ``[low, high)`` (``(low, high)`` when not ``closed``)."""
    ok = (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and (value >= low if closed else value > low)
        and value < high
    )
    if not ok:
        span = f"{'[' if closed else '('}{low:g}, {high:g})"
        raise ConfigError(
            f"mae_vit: {name} must be a number in {span}, not {value!r}.",
            hint=f"For example --set model.params.{name}={'0.5' if high <= 1 else '4.0'}",
        )
    return float(value)  # type: ignore[arg-type]
