"""Plugin loading: the built-in plugins and third-party ones come through the same door.

Every plugin is found through the ``vadkit`` entry-point group; the LUSS-AE components are an entry
point of the vadkit distribution itself. Switches, in the style of pytest:

* ``VADKIT_DISABLE_PLUGIN_AUTOLOAD=1`` loads only the entry points of the vadkit distribution;
* ``VADKIT_PLUGINS=mod_or_file,...`` loads extra plugin modules or ``.py`` files;
* ``VADKIT_BLOCK_PLUGINS=name,...`` blocks plugins by name (built-ins included);
* ``VADKIT_STRICT_PLUGINS=1`` makes any plugin problem an error instead of a warning.

The CLI sets the same through ``--plugin``, ``--block`` and ``--strict-plugins``.

A broken plugin is contained: one that fails to import or implements a hook wrongly is not loaded;
a registration with an invalid name, a taken name or a built-in's name is left out. Each problem is
one :class:`PluginLoadWarning` naming the plugin and ``--block NAME``; ``vadkit plugins`` shows it.
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
from vadkit.errors import PluginError, RegistryError
from vadkit.registry import NAME_RULE, RECIPE_NAME_RULE, Registry

ENTRY_POINT_GROUP = "vadkit"
DISTRIBUTION = "vadkit"
ENV_DISABLE_AUTOLOAD = "VADKIT_DISABLE_PLUGIN_AUTOLOAD"
ENV_PLUGINS = "VADKIT_PLUGINS"
ENV_BLOCK = "VADKIT_BLOCK_PLUGINS"
ENV_STRICT = "VADKIT_STRICT_PLUGINS"


#: Component kinds, each filled by the hook ``register_<kind>``.
KINDS: tuple[str, ...] = (
    "backbones",
    "tasks",
    "errors",
    "normalizers",
    "datasets",
    "recipes",
    "trackers",
)
_HOOKS_HINT = (
    f"Hook names are {', '.join(f'register_{k}' for k in KINDS)} and register_commands; "
    "each register_* hook takes one argument named 'register'."
)


def _new_registry(kind: str) -> Registry[Any]:
    return Registry(kind, RECIPE_NAME_RULE if kind == "recipes" else NAME_RULE)


class PluginLoadWarning(UserWarning):
    """A plugin could not be loaded (or one of its registrations was left out); vadkit goes on
    with the others."""


class _ImportFailed(Exception):
    """A one-off plugin that exists but raised when imported (contained like an entry point)."""


@dataclass
class PluginInfo:
    """What is known about one plugin: where it came from and what it registered."""

    name: str
    version: str | None
    source: str
    status: str = "loaded"  # loaded | failed | blocked
    #: What went wrong ("; " between problems): the plugin was not loaded, its hook raised, or
    #: some of its registrations were left out (``components`` lists the ones that were kept).
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
        strict: bool = False,
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.strict = strict
        self._warned: set[str] = set()
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
        """Load a plugin from a module name, a ``.py`` file, or an object with hookimpls.

        A file or module that does not exist is an error; one that raises when imported is not
        loaded (a warning, or an error when strict), like an installed plugin.
        """
        if isinstance(spec, str):
            name = name or self._spec_name(spec)
            source = f"file {spec}" if self._is_file_spec(spec) else f"module {spec}"
            if name in self.blocked:  # never import a blocked plugin
                return self._blocked(name, source)
            try:
                obj = self._import_spec(spec, name)
            except _ImportFailed as exc:
                self._fail(name, None, source, str(exc))
                return self.plugins[name]
        else:
            obj = spec
            name = name or getattr(spec, "__name__", None) or type(spec).__name__
            source = "object"
        if self.pm.is_registered(obj):  # e.g. --plugin of an installed entry-point plugin
            known = self.pm.get_name(obj)
            if known in self.plugins:
                return self.plugins[known]
        if name in self.blocked:
            return self._blocked(name, source)
        if name in self.plugins and self.plugins[name].status == "loaded":
            raise PluginError(
                f"A plugin named '{name}' is already loaded ({self.plugins[name].source}).",
                hint="Give the one-off plugin another module or file name.",
            )
        self._register(obj, name, getattr(obj, "__version__", None), source)
        self._filled.clear()
        self.registries = {k: _new_registry(k) for k in KINDS}
        return self.plugins[name]

    def _blocked(self, name: str, source: str) -> PluginInfo:
        info = PluginInfo(name, None, source, status="blocked")
        self.plugins[name] = info
        return info

    @staticmethod
    def _is_file_spec(spec: str) -> bool:
        return spec.endswith(".py") or Path(spec).is_file()

    def _spec_name(self, spec: str) -> str:
        return Path(spec).stem if self._is_file_spec(spec) else spec

    def _import_spec(self, spec: str, name: str) -> object:
        path = Path(spec)
        if self._is_file_spec(spec):
            if not path.is_file():
                raise PluginError(
                    f"Plugin file '{spec}' does not exist.",
                    hint="Pass the path of a .py file or an importable module name to --plugin.",
                )
            module_spec = importlib.util.spec_from_file_location(f"vadkit_oneoff_{name}", path)
            if module_spec is None or module_spec.loader is None:
                raise PluginError(f"Cannot load plugin file '{spec}'.", hint="Is it a Python file?")
            module = importlib.util.module_from_spec(module_spec)
            try:
                module_spec.loader.exec_module(module)
            except Exception as exc:
                raise _ImportFailed(f"importing it raised {type(exc).__name__}: {exc}") from exc
            sys.modules[module_spec.name] = module
            return module
        try:
            module = importlib.import_module(spec)
        except ModuleNotFoundError as exc:
            if exc.name != spec:  # the module exists; something it imports does not
                raise _ImportFailed(f"importing it raised ModuleNotFoundError: {exc}") from exc
            raise PluginError(
                f"Plugin module '{spec}' cannot be imported: {exc}",
                hint="Check the module name and that it is installed in this environment.",
            ) from exc
        except Exception as exc:
            raise _ImportFailed(f"importing it raised {type(exc).__name__}: {exc}") from exc
        return module

    # -- problems -------------------------------------------------------------------------
    def _problem(self, name: str, lead: str, error: str, hint: str | None = None) -> None:
        """One plugin problem: an error when strict; else the plugin is marked failed and one
        warning names it and ``--block NAME``."""
        block = f"Fix or uninstall it, or block it with --block {name}."
        if self.strict:
            strict = "(An error because plugins are strict.)"
            raise PluginError(
                f"vadkit plugin '{name}' {lead}: {error}.",
                hint=" ".join(x for x in (hint, block, strict) if x),
            )
        info = self.plugins.get(name)
        if info is not None:
            info.status = "failed"
            if not info.error:
                info.error = error
            elif error not in info.error.split("; "):
                info.error = f"{info.error}; {error}"
        text = " ".join(x for x in (f"vadkit plugin '{name}' {lead}: {error}.", hint, block) if x)
        if text not in self._warned:  # registries refilled after add_plugin warn once
            self._warned.add(text)
            warnings.warn(text, PluginLoadWarning, stacklevel=3)

    def _fail(
        self, name: str, version: str | None, source: str, error: str, hint: str = ""
    ) -> None:
        self.plugins[name] = PluginInfo(name, version, source, status="failed", error=error)
        self._problem(name, "was not loaded", error, hint or None)

    def _register(self, obj: object, name: str, version: str | None, source: str) -> None:
        try:
            self.pm.register(obj, name=name)
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            if self.pm.get_plugin(name) is obj:
                self.pm.unregister(name=name)
            self._fail(name, version, source, f"it implements a hook wrongly: {exc}", _HOOKS_HINT)
            return
        except ValueError as exc:  # pluggy: the name or the object is taken
            error = str(exc).splitlines()[0]
            self._fail(name, version, source, error, "Load each plugin once.")
            return
        self.plugins[name] = PluginInfo(name, version, source)

    def is_builtin(self, plugin: str) -> bool:
        """Whether ``plugin`` is one of vadkit's own (an entry point of its distribution)."""
        info = self.plugins.get(plugin)
        return info is not None and info.distribution == DISTRIBUTION

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
            # Call each implementation ourselves so that every component records its plugin;
            # built-ins first, then in loading order: a plugin can never take a built-in name,
            # and of two plugins with one name the first loaded keeps it.
            impls = sorted(hook.get_hookimpls(), key=lambda i: not self.is_builtin(i.plugin_name))
            for impl in impls:
                self._call_register(impl.plugin_name, impl.function, reg)
        return reg

    def _call_register(self, plugin: str, function: Callable[..., Any], reg: Registry[Any]) -> None:
        info = self.plugins.get(plugin)
        kind = reg.singular

        def register(name: str, factory: Any, *, summary: str | None = None, **extras: Any) -> None:
            owner = reg.get(name).plugin if isinstance(name, str) and name in reg else None
            if owner is not None and self.is_builtin(owner) and owner != plugin:
                error = f"it tried to replace vadkit's built-in {kind} '{name}' (of '{owner}')"
                hint = "The built-in keeps the name; register yours under another one."
                return self._problem(plugin, "had a registration refused", error, hint)
            if owner is not None:
                error = f"it registers the {kind} '{name}', which plugin '{owner}' registered first"
                hint = f"'{owner}' keeps it; rename one of them."
                return self._problem(plugin, "had a registration refused", error, hint)
            try:
                reg.add(name, factory, plugin=plugin, summary=summary, **extras)
            except RegistryError as exc:
                error = exc.message.rstrip(".")
                return self._problem(plugin, "had a registration refused", error, exc.hint)
            if info is not None:
                info.components.setdefault(reg.kind, []).append(name)
            return None

        try:
            function(register=register)
        except Exception as exc:
            if isinstance(exc, PluginError) and self.strict:
                raise
            error = f"its hook register_{reg.kind} raised {type(exc).__name__}: {exc}"
            self._problem(plugin, "failed", error)

    def fill_all(self) -> None:
        for kind in KINDS:
            self.registry(kind)

    def register_commands(self, app: Any) -> None:
        """Call every plugin's ``register_commands(app)``; one that raises is contained."""
        for impl in self.pm.hook.register_commands.get_hookimpls():
            try:
                impl.function(**{arg: app for arg in impl.argnames})
            except Exception as exc:
                if isinstance(exc, PluginError) and self.strict:
                    raise
                error = f"its hook register_commands raised {type(exc).__name__}: {exc}"
                self._problem(impl.plugin_name, "failed", error)


_host: PluginHost | None = None
_settings: dict[str, Any] = {"extra": [], "block": [], "autoload": None, "strict": None}


def configure(
    *,
    plugins: Iterable[str | object] = (),
    block: Iterable[str] = (),
    autoload: bool | None = None,
    strict: bool | None = None,
    keep_if_same: bool = False,
) -> PluginHost:
    """Rebuild the plugin host with extra plugins and blocked names (added to the environment's).

    ``strict`` (default: ``VADKIT_STRICT_PLUGINS``) makes any plugin problem a
    :class:`PluginError`. With ``keep_if_same`` the current host is kept when the settings are
    the ones it was made with (its plugins are not loaded twice).
    """
    global _host
    new = {"extra": list(plugins), "block": list(block), "autoload": autoload, "strict": strict}
    if keep_if_same and _host is not None and new == _settings:
        return _host
    _settings.update(new)
    _host = None
    return get_host()


def get_host() -> PluginHost:
    """The process-wide plugin host, created on first use from the environment.

    A strict host fills every registry at once, so that any plugin problem is raised here.
    """
    global _host
    if _host is None:
        autoload = _settings["autoload"]
        if autoload is None:
            autoload = not _env_flag(ENV_DISABLE_AUTOLOAD)
        strict = _settings["strict"]
        if strict is None:
            strict = _env_flag(ENV_STRICT)
        host = PluginHost(
            autoload=autoload,
            extra=[*_split_env(ENV_PLUGINS), *_settings["extra"]],
            block=[*_split_env(ENV_BLOCK), *_settings["block"]],
            strict=strict,
        )
        if strict:
            host.fill_all()
        _host = host
    return _host


def reset() -> None:
    """Forget loaded plugins and settings (the next use reloads from the environment)."""
    global _host
    _host = None
    _settings.update(extra=[], block=[], autoload=None, strict=None)
