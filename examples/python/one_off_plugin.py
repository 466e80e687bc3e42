"""A one-off plugin in a single file: an error measure that no package has to ship.

Load it from the command line with ``vadkit --plugin examples/python/one_off_plugin.py ...``, or
run this file: it loads itself through ``vadkit.configure`` and uses the new component.
"""

import torch

import vadkit


class MaxAbsoluteError(vadkit.ErrorMeasure):
    """Largest absolute pixel difference per frame (L-infinity)."""

    def forward(self, pred: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        # (N, C, H, W) -> (N,): one value per frame
        return (pred.float() - real.float()).abs().flatten(start_dim=1).amax(dim=1)


@vadkit.hookimpl
def register_errors(register):
    register("maxabs", MaxAbsoluteError)


if __name__ == "__main__":
    from vadkit.testing import check_error

    vadkit.configure(plugins=[__file__])  # what --plugin does on the command line
    print(vadkit.list_errors())  # ['bpe', 'l1', 'maxabs', 'mse', 'pse', 'psnr']
    print(vadkit.get_entry("errors", "maxabs").plugin)  # one_off_plugin

    maxabs = vadkit.create_error("maxabs")
    real = torch.zeros(2, 1, 4, 4)
    pred = real.clone()
    pred[0, 0, 1, 2] = 0.5  # one pixel off in the first frame
    print(maxabs(pred, real))  # tensor([0.5000, 0.0000])
    assert maxabs(pred, real).tolist() == [0.5, 0.0]

    check_error("maxabs")  # the conformance check vadkit runs on its own error measures
