import torch
from einops import rearrange
from torch import nn

import vadkit


class TinyAE(vadkit.Backbone):
    """A small 3-D convolutional autoencoder: two strided layers down, two up."""

    def __init__(self, *, in_channels: int = 1, width: int = 16):
        super().__init__()
        self.in_channels = in_channels
        self.encoder = nn.Sequential(
            nn.Conv3d(in_channels, width, kernel_size=3, stride=(1, 2, 2), padding=1),
            nn.BatchNorm3d(width),
            nn.LeakyReLU(0.2),
            nn.Conv3d(width, 2 * width, kernel_size=3, stride=2, padding=1),
            nn.BatchNorm3d(2 * width),
            nn.LeakyReLU(0.2),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose3d(2 * width, width, 3, stride=2, padding=1, output_padding=1),
            nn.BatchNorm3d(width),
            nn.LeakyReLU(0.2),
            nn.ConvTranspose3d(
                width, in_channels, 3, stride=(1, 2, 2), padding=1, output_padding=(0, 1, 1)
            ),
        )

    def check_clip_shape(self, clip_shape):
        super().check_clip_shape(clip_shape)
        _, t, h, w = clip_shape
        if t % 2 or h % 4 or w % 4:
            raise vadkit.ConfigError(
                f"TinyAE needs an even clip length and H, W divisible by 4, got {clip_shape}.",
                hint="Set data.clip_length and data.size accordingly.",
            )

    def encode(self, clip: torch.Tensor) -> torch.Tensor:
        return self.encoder(clip)  # (B, C, T, H, W) -> (B, 2w, T/2, H/4, W/4)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        return self.decoder(latent)  # back to (B, C, T, H, W), before tanh


def last_frame(clip: torch.Tensor) -> torch.Tensor:
    return rearrange(clip[:, :, -1], "b c h w -> b 1 c h w")
