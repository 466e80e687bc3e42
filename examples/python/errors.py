"""LUSS-AE's error measures on tiny frames, with values you can check by hand.

Every error measure maps predicted and real frames ``(N, C, H, W)`` to one number per frame
``(N,)``. The reference pages of mse, psnr, pse and bpe include the sections of this file.
"""

# --8<-- [start:setup]
import torch

import vadkit

real = torch.zeros(1, 1, 16, 16)  # one 16x16 grayscale frame, pixels in [-1, 1]
# --8<-- [end:setup]

# --8<-- [start:mse]
mse = vadkit.create_error("mse")
pred = real + 0.5  # every pixel off by 0.5
print(mse(pred, real))  # tensor([0.2500])
# --8<-- [end:mse]
assert torch.allclose(mse(pred, real), torch.tensor([0.25]))

# --8<-- [start:psnr]
psnr = vadkit.create_error("psnr")  # data_range=2.0: pixels in [-1, 1]
pred = real + 0.5  # MSE 0.25, so PSNR = 10 log10(2^2 / 0.25) = 10 log10(16)
print(f"{psnr(pred, real).item():.2f} dB")  # 12.04 dB
print(psnr.higher_is_anomalous)  # False
# --8<-- [end:psnr]
assert abs(psnr(pred, real).item() - 12.0412) < 1e-3

# --8<-- [start:coherent]
# Two errors with the same MSE: a coherent 2x2 blob (an object that was not predicted)
# and four isolated pixels (sensor noise).
blob = real.clone()
blob[0, 0, 6:8, 6:8] = 1.0
noise = real.clone()
noise[0, 0, [3, 3, 12, 12], [3, 12, 3, 12]] = 1.0
mse = vadkit.create_error("mse")
print(mse(blob, real).item() == mse(noise, real).item())  # True
# --8<-- [end:coherent]

# --8<-- [start:pse]
pse = vadkit.create_error("pse")  # sigma=1.0, kernel_size=5: the paper's settings
print(f"{pse(blob, real).item() / pse(noise, real).item():.1f}")  # 3.2
# --8<-- [end:pse]
assert pse(blob, real) > 3 * pse(noise, real)

# --8<-- [start:bpe]
bpe = vadkit.create_error("bpe")  # stride=2, sigma=1.0, kernel_size=5
# BPE is the mean square of the blurred error image sampled at every second row and column:
kernel = pse.kernel.view(1, 1, 5, 5)  # the same normalized 5x5 Gaussian as PSE
blurred = torch.nn.functional.conv2d(blob - real, kernel, padding=2)  # zero padding k // 2
print(torch.allclose(bpe(blob, real), blurred[..., ::2, ::2].square().mean()))  # True
# With stride 1 nothing is subsampled and BPE is PSE:
bpe1 = vadkit.create_error("bpe", stride=1)
print(torch.allclose(bpe1(blob, real), pse(blob, real)))  # True
# --8<-- [end:bpe]
