"""Wrap a ServerApp so that its whole run is recorded.

:func:`wrap_server_app` returns a new ``ServerApp`` whose lifespan opens the
store, the capture queue and a :class:`~fedprov.capture.RunRecorder`, and
whose main function records the run (Flower run id, FAB identity, run config,
user, server and workflow plan), calls the wrapped app with a
:class:`~fedprov.capture.ProvenanceGrid`, and records the outcome. Inside the
wrapped app, ``with_provenance(strategy)`` finds the recorder by itself.
"""

from __future__ import annotations

import functools
import getpass
import logging
from collections.abc import Callable, Iterator
from typing import Any

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from fedprov.capture.capture_queue import DEFAULT_MAXSIZE, CaptureQueue
from fedprov.capture.grid import ProvenanceGrid
from fedprov.capture.recorder import RunRecorder
from fedprov.capture.strategy import reset_recorder, use_recorder
from fedprov.capture.values import is_valid_name
from fedprov.errors import CaptureError
from fedprov.store.base import ProvStore

__all__ = ["RUN_KEY_CONFIG", "default_run_key", "wrap_server_app"]

logger = logging.getLogger(__name__)

#: run_config key that names the run key (the store scope) of a run.
RUN_KEY_CONFIG = "fedprov-run-key"
#: run_config key with the ``fl:serverId`` of this server process.
SERVER_ID_CONFIG = "fedprov-server-id"

MainFn = Callable[[Grid, Context], None]
StoreFactory = Callable[[Context], ProvStore]


def default_run_key(context: Context) -> str:
    """Return ``run_config["fedprov-run-key"]``, else ``flower-run-<run id>``."""
    configured = context.run_config.get(RUN_KEY_CONFIG)
    if isinstance(configured, str) and configured:
        return configured
    return f"flower-run-{context.run_id}"


def _open_default_store(context: Context) -> ProvStore:
    # Imported here so that capture code needs the Neo4j driver only when a
    # run opens the default store.
    from fedprov.settings import load_settings
    from fedprov.store.durable import open_store
    from fedprov.store.process import ProcessStore

    return ProcessStore(functools.partial(open_store, load_settings()))


def _user_name(user: str | None) -> str:
    if user is not None:
        return user
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def wrap_server_app(  # noqa: PLR0913 - each option is a documented keyword
    app: ServerApp | MainFn,
    *,
    store: ProvStore | StoreFactory | None = None,
    run_key: str | Callable[[Context], str] | None = None,
    server_id: int | Callable[[Context], int] | None = None,
    user: str | None = None,
    strict: bool = False,
    queue_size: int = DEFAULT_MAXSIZE,
    flush_timeout: float = 60.0,
) -> ServerApp:
    """Return a ServerApp that runs ``app`` and records the run as PROV.

    Parameters
    ----------
    app
        A ``ServerApp`` or a ``main(grid, context)`` function.
    store
        A store, or a function that opens one from the run's ``Context``
        (called in the ServerApp process). Default: ``fedprov.store``'s
        ``open_store`` on the settings from the environment, opened in a
        writer process (:class:`~fedprov.store.process.ProcessStore`). A
        store with a
        ``close()`` method is closed when the run ends, unless it was passed
        as an instance.
    run_key
        The run key, or a function of the ``Context`` that returns it.
        Default: :func:`default_run_key`.
    server_id
        ``fl:serverId``, or a function of the ``Context``. Default:
        ``run_config["fedprov-server-id"]``, else 1.
    user
        Name of the person who started the run. Default: the OS user.
    strict
        Raise instead of logging when capture fails (tests).
    queue_size
        Maximum number of fragments in the capture queue; it drops new ones
        beyond that.
    flush_timeout
        Seconds the end of the run waits for queued fragments to be written.

    Returns
    -------
    ServerApp
        Point ``[tool.flwr.app.components].serverapp`` at it.
    """
    inner: ServerApp | MainFn = app
    wrapped = ServerApp()
    state: dict[str, Any] = {}

    @wrapped.lifespan()
    def lifespan(context: Context) -> Iterator[None]:
        key = (
            run_key(context)
            if callable(run_key)
            else (run_key or default_run_key(context))
        )
        if not is_valid_name(key):
            raise CaptureError(
                f"run key {key!r} is invalid: use 1 to 64 letters, digits, '_', "
                f"'.' or '-'; set run_config {RUN_KEY_CONFIG!r} or run_key="
            )
        own_store = store is None or (callable(store) and not hasattr(store, "write"))
        if store is None:
            opened = _open_default_store(context)
        elif hasattr(store, "write"):
            opened = store
        else:
            opened = store(context)
        queue = CaptureQueue(opened, maxsize=queue_size, strict=strict)
        recorder = RunRecorder(
            queue, key, server_id=_server_id(server_id, context), strict=strict
        )
        state["recorder"] = recorder
        state["outcome"] = "failed"
        token = use_recorder(recorder)
        try:
            yield
        finally:
            reset_recorder(token)
            recorder.end_run(state["outcome"])
            if not queue.close(flush_timeout):
                logger.warning(
                    "run key %r: capture queue not empty after %s s", key, flush_timeout
                )
            if own_store and hasattr(opened, "close"):
                opened.close()
            state.clear()

    @wrapped.main()
    def main(grid: Grid, context: Context) -> None:
        recorder: RunRecorder = state["recorder"]
        run = grid.run
        recorder.start_run(
            flower_run_id=context.run_id,
            fab_id=getattr(run, "fab_id", ""),
            fab_version=getattr(run, "fab_version", ""),
            fab_hash=getattr(run, "fab_hash", ""),
            run_config=dict(context.run_config),
            user=_user_name(user),
        )
        recorded_grid = ProvenanceGrid(grid, recorder)
        try:
            inner(recorded_grid, context)
        except (KeyboardInterrupt, SystemExit):
            state["outcome"] = "stopped"
            raise
        except BaseException:
            state["outcome"] = "failed"
            raise
        state["outcome"] = "completed"

    return wrapped


def _server_id(
    server_id: int | Callable[[Context], int] | None, context: Context
) -> int:
    if callable(server_id):
        return int(server_id(context))
    if server_id is not None:
        return int(server_id)
    configured = context.run_config.get(SERVER_ID_CONFIG, 1)
    if isinstance(configured, bool) or not isinstance(configured, int):
        raise CaptureError(
            f"run_config {SERVER_ID_CONFIG!r}={configured!r} is invalid: give an "
            "integer from 1"
        )
    return configured
