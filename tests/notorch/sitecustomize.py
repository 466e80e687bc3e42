"""Put this folder first on PYTHONPATH and ``import torch`` fails in that interpreter: the test of
the torch-free runtime (tests/test_export.py) runs ``vadkit score/watch BUNDLE`` that way."""

import sys


class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError(
                f"importing {name} is blocked in this test: the runtime needs no torch"
            )
        return None


sys.meta_path.insert(0, _NoTorch())
