"""Plugin loading: the built-in plugins and third-party ones come through the same door.

Every plugin is found through the ``vadkit`` entry-point group; the LUSS-AE components are an entry
point of the vadkit distribution itself. Switches, in the style of pytest:

* ``VADKIT_DISABLE_PLUGIN_AUTOLOAD=1`` loads only the entry points of the vadkit distribution;
* ``VADKIT_PLUGINS=mod_or_file,...`` loads extra plugin modules or ``.py`` files;
* ``VADKIT_BLOCK_PLUGINS=name,...`` blocks plugins by name (built-ins included).

The CLI sets the same through ``--plugin`` and ``--block``.
"""

from __future__ import annotations

import importlib
import importlib.metadata as metadata
import importlib.util
import os
import sys
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from vadkit import hookspecs
from vadkit.errors import PluginError, VadkitError
from vadkit.registry import NAME_RULE, RECIPE_NAME_RULE, Registry

ENTRY_POINT_GROUP = "vadkit"
DISTRIBUTION = "vadkit"
ENV_DISABLE_AUTOLOAD = "VADKIT_DISABLE_PLUGIN_AUTOLOAD"
ENV_PLUGINS = "VADKIT_PLUGINS"
ENV_BLOCK = "VADKIT_BLOCK_PLUGINS"

#: Component kinds, each filled by the hook ``register_<kind>``.
KINDS: tuple[str, ...] = ("backbones", "tasks", "errors", "normalizers", "datasets", "recipes")


def _new_registry(kind: str) -> Registry[Any]:
    return Registry(kind, RECIPE_NAME_RULE if kind == "recipes" else NAME_RULE)


class PluginLoadWarning(UserWarning):
    """A plugin could not be loaded; vadkit goes on with the others."""


@dataclass
class PluginInfo:
    """What is known about one plugin: where it came from and what it registered."""

    name: str
    version: str | None
    source: str
    status: str = "loaded"  # loaded | failed | blocked
    error: str | None = None
    components: dict[str, list[str]] = field(default_factory=dict)
    #: The installed distribution that declares it (what ``pip install`` takes); None for a
    #: module or file loaded with ``--plugin``.
    distribution: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "status": self.status,
            "error": self.error,
            "components": {k: sorted(v) for k, v in self.components.items() if v},
        }


def _split_env(name: str) -> list[str]:
    return [p.strip() for p in os.environ.get(name, "").split(",") if p.strip()]


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


class PluginHost:
    """A pluggy manager, the plugins it loaded and the registries they filled."""

    def __init__(
        self,
        *,
        autoload: bool = True,
        extra: Iterable[str | object] = (),
        block: Iterable[str] = (),
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.blocked = set(block)
        self.plugins: dict[str, PluginInfo] = {}
        self.registries: dict[str, Registry[Any]] = {k: _new_registry(k) for k in KINDS}
        self._filled: set[str] = set()
        for name in self.blocked:
            self.pm.set_blocked(name)
        self._load_entry_points(autoload)
        for spec in extra:
            self.add_plugin(spec)

    # -- loading --------------------------------------------------------------------------
    def _load_entry_points(self, autoload: bool) -> None:
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = getattr(ep, "dist", None)
            dist_name = dist.name if dist is not None else None
            version = dist.version if dist is not None else None
            if not autoload and dist_name != DISTRIBUTION:
                continue
            if ep.name in self.plugins:  # the same distribution seen twice on sys.path
                continue
            source = f"entry point {ep.value} ({dist_name or 'unknown distribution'})"
            if ep.name in self.blocked:
                self.plugins[ep.name] = PluginInfo(ep.name, version, source, status="blocked")
            else:
                try:
                    obj = ep.load()
                except Exception as exc:
                    error = f"importing it raised {type(exc).__name__}: {exc}"
                    self._fail(ep.name, version, source, error)
                else:
                    self._register(obj, ep.name, version, source)
            self.plugins[ep.name].distribution = dist_name

    def add_plugin(self, spec: str | object, name: str | None = None) -> PluginInfo:
        """Load a plugin from a module name, a ``.py`` file, or an object with hookimpls."""
        if isinstance(spec, str):
            obj, name, source = self._import_spec(spec, name)
        else:
            obj = spec
            name = name or getattr(spec, "__name__", None) or type(spec).__name__
            source = "object"
        if self.pm.is_registered(obj):  # e.g. --plugin of an installed entry-point plugin
            known = self.pm.get_name(obj)
            if known in self.plugins:
                return self.plugins[known]
        if name in self.blocked:
            info = PluginInfo(name, None, source, status="blocked")
            self.plugins[name] = info
            return info
        if name in self.plugins and self.plugins[name].status == "loaded":
            raise PluginError(
                f"A plugin named '{name}' is already loaded ({self.plugins[name].source}).",
                hint="Give the one-off plugin another module or file name.",
            )
        self._register(obj, name, getattr(obj, "__version__", None), source)
        self._filled.clear()
        self.registries = {k: _new_registry(k) for k in KINDS}
        return self.plugins[name]

    @staticmethod
    def _import_spec(spec: str, name: str | None) -> tuple[object, str, str]:
        path = Path(spec)
        if spec.endswith(".py") or path.is_file():
            if not path.is_file():
                raise PluginError(
                    f"Plugin file '{spec}' does not exist.",
                    hint="Pass the path of a .py file or an importable module name to --plugin.",
                )
            mod_name = name or path.stem
            module_spec = importlib.util.spec_from_file_location(f"vadkit_oneoff_{mod_name}", path)
            if module_spec is None or module_spec.loader is None:
                raise PluginError(f"Cannot load plugin file '{spec}'.", hint="Is it a Python file?")
            module = importlib.util.module_from_spec(module_spec)
            try:
                module_spec.loader.exec_module(module)
            except Exception as exc:
                raise PluginError(
                    f"Plugin file '{spec}' raised {type(exc).__name__} on import: {exc}",
                    hint="Fix the error in that file, or leave out --plugin.",
                ) from exc
            sys.modules[module_spec.name] = module
            return module, mod_name, f"file {path}"
        try:
            module = importlib.import_module(spec)
        except Exception as exc:
            raise PluginError(
                f"Plugin module '{spec}' cannot be imported: {type(exc).__name__}: {exc}",
                hint="Check the module name and that it is installed in this environment.",
            ) from exc
        return module, name or spec, f"module {spec}"

    def _fail(self, name: str, version: str | None, source: str, error: str) -> None:
        self.plugins[name] = PluginInfo(name, version, source, status="failed", error=error)
        warnings.warn(
            f"vadkit plugin '{name}' was not loaded: {error}. "
            f"Fix or uninstall it, or block it with --block {name}.",
            PluginLoadWarning,
            stacklevel=3,
        )

    def _register(self, obj: object, name: str, version: str | None, source: str) -> None:
        try:
            self.pm.register(obj, name=name)
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(name=name)
            raise PluginError(
                f"Plugin '{name}' ({source}) implements a hook wrongly: {exc}",
                hint="Hook names are register_backbones, register_tasks, register_errors, "
                "register_normalizers, register_datasets and register_commands; each "
                "register_* hook takes one argument named 'register'.",
            ) from exc
        except ValueError as exc:  # pluggy: the name or the object is taken
            raise PluginError(
                f"Cannot load plugin '{name}' ({source}): {exc}.",
                hint="Each plugin is loaded once: leave out --plugin for an installed plugin, "
                "or give a one-off plugin another name.",
            ) from exc
        self.plugins[name] = PluginInfo(name, version, source)

    # -- registries -----------------------------------------------------------------------
    def registry(self, kind: str) -> Registry[Any]:
        """The registry of ``kind``, filled by calling every plugin's hook on first use."""
        if kind not in self.registries:
            raise PluginError(
                f"Unknown component kind '{kind}'.", hint=f"Kinds are: {', '.join(KINDS)}."
            )
        reg = self.registries[kind]
        if kind not in self._filled:
            self._filled.add(kind)
            for info in self.plugins.values():
                info.components.pop(kind, None)
            hook = getattr(self.pm.hook, f"register_{kind}")
            # Call each implementation ourselves so that every component records its plugin.
            for impl in reversed(hook.get_hookimpls()):
                self._call_register(impl.plugin_name, impl.function, reg)
        return reg

    def _call_register(self, plugin: str, function: Callable[..., Any], reg: Registry[Any]) -> None:
        info = self.plugins.get(plugin)

        def register(name: str, factory: Any, *, summary: str | None = None, **extras: Any) -> None:
            reg.add(name, factory, plugin=plugin, summary=summary, **extras)
            if info is not None:
                info.components.setdefault(reg.kind, []).append(name)

        try:
            function(register=register)
        except VadkitError:
            raise
        except Exception as exc:
            msg = f"its hook register_{reg.kind} raised {type(exc).__name__}: {exc}"
            if info is not None:
                info.status, info.error = "failed", msg
            warnings.warn(
                f"vadkit plugin '{plugin}' failed: {msg}. Block it with --block {plugin}.",
                PluginLoadWarning,
                stacklevel=3,
            )

    def fill_all(self) -> None:
        for kind in KINDS:
            self.registry(kind)


_host: PluginHost | None = None
_settings: dict[str, Any] = {"extra": [], "block": [], "autoload": None}


def configure(
    *, plugins: Iterable[str | object] = (), block: Iterable[str] = (), autoload: bool | None = None
) -> PluginHost:
    """Rebuild the plugin host with extra plugins and blocked names (added to the environment's)."""
    global _host
    _settings["extra"] = list(plugins)
    _settings["block"] = list(block)
    _settings["autoload"] = autoload
    _host = None
    return get_host()


def get_host() -> PluginHost:
    """The process-wide plugin host, created on first use from the environment."""
    global _host
    if _host is None:
        autoload = _settings["autoload"]
        if autoload is None:
            autoload = not _env_flag(ENV_DISABLE_AUTOLOAD)
        _host = PluginHost(
            autoload=autoload,
            extra=[*_split_env(ENV_PLUGINS), *_settings["extra"]],
            block=[*_split_env(ENV_BLOCK), *_settings["block"]],
        )
    return _host


def reset() -> None:
    """Forget loaded plugins and settings (the next use reloads from the environment)."""
    global _host
    _host = None
    _settings.update(extra=[], block=[], autoload=None)
