"""A backbone: an encoder-decoder over clips (B, C, T, H, W)."""

from torch import Tensor, nn

import vadkit


class TinyAE(vadkit.Backbone):
    """A small 3-D convolutional autoencoder: two strided layers down, two up.

    The latent of a clip (C, T, H, W) is (2 * width, T / 2, H / 4, W / 4), so clips need an even
    length and sides divisible by 4.

    Parameters:
        in_channels: channels of the input frames (1 = grayscale, 3 = colour).
        width: channels of the first layer; the latent has twice as many.
    """

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

    def check_clip_shape(self, clip_shape: tuple[int, int, int, int]) -> None:
        """Refuse, before training starts, clips this network cannot rebuild exactly."""
        super().check_clip_shape(clip_shape)  # checks the number of channels
        _, t, h, w = clip_shape
        if t % 2 or h % 4 or w % 4:
            raise vadkit.ConfigError(
                f"TinyAE needs an even clip length and H, W divisible by 4, got {clip_shape}.",
                hint="Set data.clip_length and data.size accordingly.",
            )

    def encode(self, clip: Tensor) -> Tensor:
        return self.encoder(clip)  # (B, C, T, H, W) -> (B, 2w, T/2, H/4, W/4)

    def decode(self, latent: Tensor) -> Tensor:
        return self.decoder(latent)  # back to (B, C, T, H, W), before the tanh of activation()
