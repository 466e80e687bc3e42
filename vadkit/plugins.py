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
"Fails" means anything the plugin's own code raises, ``sys.exit``, ``KeyboardInterrupt`` and other
``BaseException`` included; only a real Ctrl-C stops vadkit (:func:`_plugin_code` tells them
apart). A component that loads but cannot be used is left out with a warning
(:func:`component_left_out`), an error under strict plugins. A blocked name that is no plugin is
one :class:`PluginBlockWarning` listing the plugins.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata as metadata
import importlib.util
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import pluggy

from vadkit import hookspecs
from vadkit.errors import ConfigError, PluginError, RegistryError, VadkitError
from vadkit.registry import NAME_RULE, RECIPE_NAME_RULE, Registry, closest_name

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
    "pseudo_anomalies",
)
_HOOKS_HINT = (
    f"Hook names are {', '.join(f'register_{k}' for k in KINDS)} and register_commands; "
    "each register_* hook takes one argument named 'register'."
)


#: Kinds whose names may hold single hyphens (``luss-ae-paper``, ``video-folder``).
HYPHENATED_KINDS = frozenset({"recipes", "datasets"})


def _new_registry(kind: str) -> Registry[Any]:
    return Registry(kind, RECIPE_NAME_RULE if kind in HYPHENATED_KINDS else NAME_RULE)


class PluginLoadWarning(UserWarning):
    """A plugin could not be loaded (or one of its registrations or components was left out);
    vadkit goes on with the others."""


class PluginBlockWarning(UserWarning):
    """``--block`` (or ``VADKIT_BLOCK_PLUGINS``) names no plugin: a typo blocks nothing."""


class _ImportFailed(Exception):
    """A one-off plugin that exists but raised when imported (contained like an entry point)."""


class _Escaped(Exception):
    """A ``BaseException`` that is not an ``Exception`` (``sys.exit``'s ``SystemExit``, a
    ``KeyboardInterrupt`` the plugin raised itself, ...) raised by a plugin's own code, carried as
    an ordinary exception so that it is contained like any other."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


def _raised(exc: BaseException) -> str:
    """``raised TYPE: message`` for what a plugin's code raised (the original of an escaped one)."""
    if isinstance(exc, _Escaped):
        exc = exc.original
    if isinstance(exc, SystemExit):
        return f"raised SystemExit({exc.code!r}) (sys.exit)"
    text = str(exc)
    return f"raised {type(exc).__name__}: {text}" if text else f"raised {type(exc).__name__}"


class _SigintWatch:
    """While a plugin's code runs in the main thread: remember what a real SIGINT made the
    process's own handler raise (``KeyboardInterrupt`` with Python's default handler).

    Only a Python-level handler turns SIGINT into an exception, and Python runs it in the main
    thread only; so with no such handler (``SIG_IGN``, ``SIG_DFL``), or in another thread, no
    exception can come from Ctrl-C and nothing is installed. The watch wraps the handler it finds
    and puts it back when done (unless the plugin installed its own meanwhile).
    """

    def __init__(self) -> None:
        self.interrupt: BaseException | None = None
        self._previous: Callable[[int, FrameType | None], Any] | None = None

    def __enter__(self) -> _SigintWatch:
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if callable(previous):
                self._previous = previous
                signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        assert self._previous is not None
        try:
            self._previous(signum, frame)
        except BaseException as exc:
            self.interrupt = exc
            raise

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None and signal.getsignal(signal.SIGINT) == self._handle:
            signal.signal(signal.SIGINT, self._previous)


@contextlib.contextmanager
def _plugin_code() -> Iterator[None]:
    """Run a plugin's own code (its import, a ``register_*`` hook) so that whatever it raises can
    be contained.

    An ``Exception`` passes unchanged. Any other ``BaseException`` (``sys.exit``,
    ``KeyboardInterrupt``, ``GeneratorExit``, a class of the plugin's) comes out as
    :class:`_Escaped`, an ``Exception`` the callers contain like the others: a plugin cannot stop
    vadkit, nor pass its own exit code off as vadkit's. Only a real Ctrl-C (SIGINT) stops vadkit:
    when SIGINT's handler raised while the code ran (:class:`_SigintWatch`), that exception goes
    on, also when the plugin caught it and raised something else, or swallowed it.
    """
    with _SigintWatch() as sigint:
        try:
            yield
        except BaseException as exc:
            if sigint.interrupt is None:
                if isinstance(exc, Exception):
                    raise
                raise _Escaped(exc) from exc
            if exc is sigint.interrupt:
                raise
            raise sigint.interrupt from exc
        if sigint.interrupt is not None:
            raise sigint.interrupt


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
        #: Entry points of other distributions, not loaded because autoloading is off.
        self._not_autoloaded: set[str] = set()
        for name in self.blocked:
            self.pm.set_blocked(name)
        self._load_entry_points(autoload)
        for spec in extra:
            self.add_plugin(spec)
        self._check_blocked_names()

    # -- loading --------------------------------------------------------------------------
    def _load_entry_points(self, autoload: bool) -> None:
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = getattr(ep, "dist", None)
            dist_name = dist.name if dist is not None else None
            version = dist.version if dist is not None else None
            if not autoload and dist_name != DISTRIBUTION:
                self._not_autoloaded.add(ep.name)
                continue
            if ep.name in self.plugins:  # the same distribution seen twice on sys.path
                continue
            source = f"entry point {ep.value} ({dist_name or 'unknown distribution'})"
            if ep.name in self.blocked:
                self.plugins[ep.name] = PluginInfo(ep.name, version, source, status="blocked")
            else:
                try:
                    with _plugin_code():
                        obj = ep.load()
                except Exception as exc:
                    self._fail(ep.name, version, source, f"importing it {_raised(exc)}")
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

    def _check_blocked_names(self) -> None:
        """One warning per blocked name that is no plugin (a typo would block nothing), naming
        the plugins there are and the closest one. A warning even when strict: the name blocks
        nothing, and a broken plugin it failed to block is an error of its own then."""
        known = sorted({*self.plugins, *self._not_autoloaded})
        for name in sorted(self.blocked - set(known)):
            close = closest_name(name, known)
            guess = f" Did you mean '{close}'?" if close else ""
            listed = ", ".join(known) if known else "none"
            warnings.warn(
                f"--block {name!r} (or {ENV_BLOCK}) names no plugin, so it blocks nothing.{guess}"
                f" The plugins are: {listed} (`vadkit plugins` lists them).",
                PluginBlockWarning,
                stacklevel=4,
            )

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
                with _plugin_code():
                    module_spec.loader.exec_module(module)
            except Exception as exc:
                raise _ImportFailed(f"importing it {_raised(exc)}") from exc
            sys.modules[module_spec.name] = module
            return module
        try:
            with _plugin_code():
                module = importlib.import_module(spec)
        except ModuleNotFoundError as exc:
            if exc.name != spec:  # the module exists; something it imports does not
                raise _ImportFailed(f"importing it raised ModuleNotFoundError: {exc}") from exc
            raise PluginError(
                f"Plugin module '{spec}' cannot be imported: {exc}",
                hint="Check the module name and that it is installed in this environment.",
            ) from exc
        except Exception as exc:
            raise _ImportFailed(f"importing it {_raised(exc)}") from exc
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
            with _plugin_code():
                function(register=register)
        except Exception as exc:
            if isinstance(exc, PluginError) and self.strict:
                raise
            self._problem(plugin, "failed", f"its hook register_{reg.kind} {_raised(exc)}")

    def fill_all(self) -> None:
        for kind in KINDS:
            self.registry(kind)

    def register_commands(self, app: Any) -> None:
        """Call every plugin's ``register_commands(app)``; one that raises is contained."""
        for impl in self.pm.hook.register_commands.get_hookimpls():
            try:
                with _plugin_code():
                    impl.function(**{arg: app for arg in impl.argnames})
            except Exception as exc:
                if isinstance(exc, PluginError) and self.strict:
                    raise
                error = f"its hook register_commands {_raised(exc)}"
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


#: How a message names a component of each kind ("error measure 'pse'").
_COMPONENT_WORDS = {"errors": "error measure", "pseudo_anomalies": "pseudo-anomaly"}


def component_left_out(kind: str, name: str, reason: str) -> None:
    """A registered component that a command cannot use (it cannot be built, or it fails a
    probe) is left out: one warning naming it and its plugin. Under strict plugins
    (``--strict-plugins``, ``VADKIT_STRICT_PLUGINS=1``) a :class:`PluginError` instead (exit 2):
    CI would otherwise pass with a measure silently missing from every score set."""
    host = get_host()
    registry = host.registry(kind)
    plugin = registry.get(name).plugin if name in registry else None
    what = f"{_COMPONENT_WORDS.get(kind, registry.singular)} '{name}'"
    of = f" (plugin '{plugin}')" if plugin else ""
    if host.strict:
        fix = f"Fix the plugin '{plugin}' or block it with --block {plugin}. " if plugin else ""
        raise PluginError(
            f"The {what}{of} cannot be used: {reason}.",
            hint=f"{fix}(An error because plugins are strict; without --strict-plugins it is "
            "left out with a warning.)",
        )
    warnings.warn(f"{what}{of} left out: {reason}", PluginLoadWarning, stacklevel=3)


def reset() -> None:
    """Forget loaded plugins and settings (the next use reloads from the environment)."""
    global _host
    _host = None
    _settings.update(extra=[], block=[], autoload=None, strict=None)


# -- plugins a run or a bundle was made with ---------------------------------------------------
def missing_plugins(recorded: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The plugins a record names that are not loaded now: ``name``, ``version``,
    ``distribution`` (None when not recorded) and ``status`` (``not installed``, ``blocked``,
    ``failed``). ``recorded`` is shaped as a run's ``versions.json``: ``plugins`` (name ->
    version) and ``distributions`` (name -> the distribution ``pip install`` takes)."""
    loaded = get_host().plugins
    versions = recorded.get("plugins") or {}
    dists = recorded.get("distributions") or {}
    return [
        {"name": n, "version": v, "distribution": dists.get(n), "status": "not installed"}
        | ({"status": loaded[n].status} if n in loaded else {})
        for n, v in sorted(versions.items())
        if n not in loaded or loaded[n].status != "loaded"
    ]


def missing_plugin_error(
    exc: VadkitError, missing: Sequence[Mapping[str, Any]], made: str = "run"
) -> ConfigError:
    """``exc`` (an unknown component) with the plugins ``missing`` that the ``made`` (``run``,
    ``bundle``) was made with, and the fix for each: ``pip install DIST==VERSION``, stop
    blocking it, or install the package that provides it."""
    said, fixes = [], []
    for p in missing:
        name, version, dist = p["name"], p["version"], p["distribution"]
        status = "failed to load" if p["status"] == "failed" else p["status"]
        said.append(f"plugin '{name}' {version or '(version not recorded)'} ({status} here)")
        if p["status"] == "blocked":
            fixes.append(f"stop blocking '{name}' (--block, VADKIT_BLOCK_PLUGINS)")
        elif dist:
            fixes.append(f"pip install {dist}{f'=={version}' if version else ''}")
        else:
            fixes.append(f"install the package that provides the vadkit plugin '{name}', or "
                         "load its module or file with --plugin")  # fmt: skip
    return ConfigError(
        f"{exc.message} This {made} was made with {'; '.join(said)}.",
        hint=f"To use the {made}, {'; '.join(fixes)}.",
    )
