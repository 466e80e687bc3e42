"""Put this folder first on PYTHONPATH and that interpreter is the light install: the packages of
vadkit's full install that requirements-runtime.txt leaves out (torch and what needs it, einops,
safetensors, matplotlib) cannot be imported. Importing one raises ModuleNotFoundError naming it,
as in an environment where it is not installed. tests/test_export.py and tests/test_light_install.py
run the CLI this way."""

import sys

#: Top-level modules of the full install's dependencies that the light install lacks.
BLOCKED = ("torch", "torchvision", "timm", "einops", "safetensors", "matplotlib")


class _LightInstall:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(
                f"No module named {name!r} (blocked in this test: the light install lacks it)",
                name=name,
            )
        return None


sys.meta_path.insert(0, _LightInstall())
