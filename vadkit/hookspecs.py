"""The hooks a vadkit plugin can implement.

A plugin is a module (or any object) with functions decorated by :data:`vadkit.hookimpl` and named
after the hooks below. Each ``register_<kind>`` hook is called once, when vadkit first needs its
components, with a single argument ``register``::

    register(name: str, factory: Callable | str, *, summary: str | None = None, **extras)

``factory`` is a class or a function that builds the component from keyword arguments, or the
string ``"package.module:Attribute"`` so that the module is imported only when the component is
used. ``summary`` overrides the first line of the factory's docstring in ``vadkit list``.
A name is lower case (``[a-z][a-z0-9_]*``) and unique across all plugins of its kind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import pluggy

PROJECT = "vadkit"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class Register(Protocol):
    """The callable handed to every ``register_<kind>`` hook."""

    def __call__(
        self,
        name: str,
        factory: Callable[..., Any] | str,
        *,
        summary: str | None = None,
        **extras: Any,
    ) -> None: ...


@hookspec
def register_backbones(register: Register) -> None:
    """Register backbones: networks that encode a clip ``(B, C, T, H, W)`` and decode it back.

    Called once when the backbone registry is first used. A backbone subclasses
    :class:`vadkit.components.Backbone`; its constructor takes keyword-only parameters with
    defaults, which are its configuration schema (``vadkit describe backbones NAME`` shows them).

    Example::

        @vadkit.hookimpl
        def register_backbones(register):
            register("tiny_ae", "my_plugin.models:TinyAE")
    """


@hookspec
def register_tasks(register: Register) -> None:
    """Register proxy tasks: heads on a backbone with a training loss and a test-time score.

    Called once when the task registry is first used. A task subclasses
    :class:`vadkit.components.ProxyTask`.

    Example::

        @vadkit.hookimpl
        def register_tasks(register):
            register("denoise", "my_plugin.tasks:Denoise")
    """


@hookspec
def register_errors(register: Register) -> None:
    """Register error measures: per-frame distances between a predicted and a real frame.

    Called once when the error registry is first used. An error measure subclasses
    :class:`vadkit.components.ErrorMeasure` and maps two ``(N, C, H, W)`` tensors to ``(N,)``.

    Example::

        @vadkit.hookimpl
        def register_errors(register):
            register("mae", "my_plugin.errors:MeanAbsoluteError")
    """


@hookspec
def register_normalizers(register: Register) -> None:
    """Register score normalizers: rescalings of a 1-D score stream.

    Called once when the normalizer registry is first used. A normalizer subclasses
    :class:`vadkit.components.ScoreNormalizer`: ``fit(reference)`` and ``transform(scores)``
    (per video offline through ``fit_transform``; fitted on normal data for a live stream).

    Example::

        @vadkit.hookimpl
        def register_normalizers(register):
            register("zscore", "my_plugin.norms:ZScore")
    """


@hookspec
def register_datasets(register: Register) -> None:
    """Register dataset formats: readers that find videos, frames and labels under a folder.

    Called once when the dataset registry is first used. A format subclasses
    :class:`vadkit.data.DatasetFormat`. Format names may contain single hyphens
    (``video-folder``). A registration may also carry the downloads of datasets
    whose tree the format reads, with the optional keyword ``download=`` (a
    :class:`vadkit.data.download.DatasetDownload`, or a list of them): ``vadkit data download
    NAME`` then fetches, verifies and lays them out. A registration without it is a format as
    before.

    Example::

        from vadkit.data.download import Archive, DatasetDownload, Place

        CAMPUS = DatasetDownload(
            name="campus",
            title="Campus clips",
            archives=(
                Archive(
                    "campus-1.0.tar.gz",
                    sha256="5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
                    urls=("https://example.org/campus-1.0.tar.gz",),  # mirrors, in order
                ),
            ),
            places=(Place("campus-1.0", "."),),  # the archive's folder becomes DIR/campus
        )

        @vadkit.hookimpl
        def register_datasets(register):
            register("my_layout", "my_plugin.data:MyLayout")
            register("campus_clips", "my_plugin.data:CampusClips", download=CAMPUS)
    """


@hookspec
def register_recipes(register: Register) -> None:
    """Register recipes: named, documented settings that make a method work.

    Called once when the recipe registry is first used. A recipe is a function (or any
    callable) without arguments that returns a :class:`vadkit.components.Recipe`; its docstring
    is what ``vadkit describe recipes NAME`` shows. Recipe names may contain single hyphens
    (``my-method-paper``). ``vadkit train --recipe NAME`` starts from it.

    Example::

        @vadkit.hookimpl
        def register_recipes(register):
            register("my-method", "my_plugin.recipes:my_method")
    """


@hookspec
def register_trackers(register: Register) -> None:
    """Register experiment trackers: where a run's settings, losses and results are also logged.

    Called once when the tracker registry is first used. A tracker subclasses
    :class:`vadkit.tracking.Tracker` (a trainer callback) and implements its primitives:
    ``open``, ``log_params``, ``log_metrics``, ``log_artifact`` and ``close``. A run logs to
    the trackers named by ``train.track`` (``vadkit train --track NAME``), built from
    ``[train.track_params.NAME]``. Packages a tracker imports are named in its ``requires``, so
    that a missing one stops training before it starts, naming the install.

    Example::

        @vadkit.hookimpl
        def register_trackers(register):
            register("my_board", "my_plugin.tracking:MyBoard")
    """


@hookspec
def register_commands(app: Any) -> None:
    """Add commands to the ``vadkit`` command line.

    Called once when the CLI starts, with the root :class:`typer.Typer` application.

    Example::

        @vadkit.hookimpl
        def register_commands(app):
            @app.command()
            def hello():
                print("hello from my plugin")
    """


@hookspec
def register_pseudo_anomalies(register: Register) -> None:
    """Register pseudo-anomalies: synthetic anomalies for label-free validation.

    Called once when the pseudo-anomaly registry is first used. A pseudo-anomaly subclasses
    :class:`vadkit.components.PseudoAnomaly`: it turns a window of T+1 uint8 frames (plus a
    random generator and, when it asks for one, a window of another video) into a modified
    window and a 0/1 label per frame saying which frames it made anomalous. ``vadkit validate``
    injects them into held-out normal training videos and measures how well a run's scores
    rank them (the pseudo-AUROC).

    Example::

        @vadkit.hookimpl
        def register_pseudo_anomalies(register):
            register("flicker", "my_plugin.pseudo:Flicker")
    """
