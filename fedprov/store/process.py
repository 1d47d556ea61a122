"""A provenance store that writes from a child Python process.

Writing one captured document (journal line, Neo4j rows, relational view)
costs tens of milliseconds of Python. In the ServerApp's process those
milliseconds hold the GIL that the server thread needs to poll replies and
aggregate. A writer thread at a lower CPU priority makes that worse,
because the kernel preempts it while it holds the GIL and the server thread
then waits for it. :class:`ProcessStore` moves the writes into a child
process with a GIL of its own, at a lower priority (``nice``), so a
federation's cores go to training first.

The parent only pickles each document and sends it over a pipe (about 1 ms
for 100 records on a 2-core x86 VM). :meth:`ProcessStore.write` returns once
the child's store has accepted the document, so
:meth:`fedprov.capture.CaptureQueue.flush` still means "written".

When the child process dies, the store opens the same store in this process,
logs a WARNING with the child's exit code and goes on writing there. The
document in flight is written again, which a :class:`ProvStore` must accept
without change. With ``strict=True`` (tests) the failure raises
:class:`~fedprov.errors.StoreError` instead.

The child reads requests from its standard input and sends replies on a
copy of its standard output. Anything a library prints in the child goes to
standard error, so it cannot corrupt the replies.
"""

from __future__ import annotations

import logging
import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from prov.model import ProvDocument

from fedprov import errors
from fedprov.errors import StoreError
from fedprov.store.base import ProvStore

__all__ = ["ProcessStore", "WriterStats"]

logger = logging.getLogger(__name__)

#: Default increment of the child's nice value over this process's.
DEFAULT_NICE = 10

#: Default seconds to wait for the child to import fedprov and open its store.
DEFAULT_START_TIMEOUT = 120.0

StoreOpener = Callable[[], ProvStore]


@dataclass
class WriterStats:
    """Counters of the child process, as of its latest reply."""

    #: Documents the child's store accepted.
    writes: int = 0
    #: CPU seconds of the whole child process (user and system).
    cpu_seconds: float = 0.0
    #: Relational view updates and their CPU seconds, when the child's store
    #: updates a view (a ``ViewingStore`` inside it).
    view_updates: int = 0
    view_cpu_seconds: float = 0.0


class ProcessStore:
    """Write documents through a store that a child process opens.

    Parameters
    ----------
    opener
        A picklable callable without arguments that returns the real store,
        for example ``functools.partial(open_store, settings)``. It runs in
        the child, and again in this process if the child dies.
    nice
        How much lower than this process's the child's CPU priority is,
        0 to 19 (default 10).
    strict
        Raise :class:`~fedprov.errors.StoreError` when the child dies,
        instead of writing in this process (tests).
    start_timeout
        Seconds to wait for the child to open its store.

    Raises
    ------
    StoreError
        If the child cannot be started, sends no reply within
        ``start_timeout``, or its opener raises. An opener's
        :class:`~fedprov.errors.FedProvError` keeps its class, so a rejected
        Neo4j password is still an
        :class:`~fedprov.errors.AuthenticationError`.
    """

    def __init__(
        self,
        opener: StoreOpener,
        *,
        nice: int = DEFAULT_NICE,
        strict: bool = False,
        start_timeout: float = DEFAULT_START_TIMEOUT,
    ) -> None:
        if not isinstance(nice, int) or not 0 <= nice <= 19:
            raise StoreError(
                f"nice={nice!r} is invalid: give how much lower the writer "
                "process's priority is, an integer from 0 to 19"
            )

        self._opener = opener
        self.strict = strict
        self.stats = WriterStats()
        self._lock = threading.Lock()
        self._local: ProvStore | None = None
        self._closed = False

        try:
            level = logging.getLogger("fedprov").getEffectiveLevel()
            payload = pickle.dumps(("open", opener, nice, level), protocol=5)
        except (pickle.PicklingError, AttributeError, TypeError) as err:
            raise StoreError(
                f"the store opener cannot be sent to a writer process: {err}; pass "
                "a module-level function or a functools.partial of one"
            ) from err

        self._process = subprocess.Popen(  # noqa: S603 - fixed argument list
            [sys.executable, "-m", "fedprov.store.process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.pid = self._process.pid

        try:
            self._send_bytes(payload)
            self._receive(timeout=start_timeout)
        except BaseException:
            self._stop_child()
            raise
        logger.info("provenance writer process started (pid %d)", self.pid)

    def write(self, scope: str, document: ProvDocument) -> None:
        """Write ``document`` under ``scope`` in the child; return once it was.

        Raises
        ------
        StoreError
            If the child's store raised (with its message), or, with
            ``strict``, if the child died.
        """
        with self._lock:
            if self._closed:
                raise StoreError(
                    "the provenance writer process was closed; open a new store"
                )
            if self._local is not None:
                self._local.write(scope, document)
                return
            try:
                self._send_bytes(pickle.dumps(("write", scope, document), protocol=5))
                self._receive(timeout=None)
            except _ChildGone as gone:
                self._fall_back(str(gone))
                assert self._local is not None  # noqa: S101 - set by _fall_back
                self._local.write(scope, document)

    def close(self) -> None:
        """Let the child close its store and exit; close a local store too."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._local is not None:
                _close_store(self._local)
            if self._process.poll() is None:
                try:
                    self._send_bytes(pickle.dumps(("close",), protocol=5))
                    self._receive(timeout=60.0)
                except (_ChildGone, StoreError) as err:
                    logger.warning(
                        "provenance writer process (pid %d) did not close cleanly: %s",
                        self.pid,
                        err,
                    )
            self._stop_child()

    # -- parent side -----------------------------------------------------------

    def _send_bytes(self, payload: bytes) -> None:
        stream = self._process.stdin
        assert stream is not None  # noqa: S101 - opened with PIPE
        try:
            stream.write(payload)
            stream.flush()
        except (BrokenPipeError, OSError) as err:
            raise _ChildGone(self._exit_note(err)) from err

    def _receive(self, *, timeout: float | None) -> None:
        stream = self._process.stdout
        assert stream is not None  # noqa: S101 - opened with PIPE
        if timeout is not None:
            ready, _, _ = select.select([stream], [], [], timeout)
            if not ready:
                raise StoreError(
                    f"the provenance writer process (pid {self.pid}) sent no reply "
                    f"within {timeout:.0f} s; check that Neo4j is reachable"
                )
        try:
            reply = pickle.load(stream)  # noqa: S301 - our own child's pipe
        except (EOFError, pickle.UnpicklingError, OSError) as err:
            raise _ChildGone(self._exit_note(err)) from err
        kind = reply[0]
        if kind == "error":
            _, class_name, message = reply
            raise _error_class(class_name)(message)
        self.stats = reply[1]

    def _exit_note(self, err: BaseException) -> str:
        try:
            code = self._process.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            return f"stopped replying ({type(err).__name__})"
        return f"exited with code {code}"

    def _fall_back(self, reason: str) -> None:
        if self.strict:
            raise StoreError(f"the provenance writer process (pid {self.pid}) {reason}")
        logger.warning(
            "provenance writer process (pid %d) %s; writing in this process from "
            "now on",
            self.pid,
            reason,
        )
        self._local = self._opener()

    def _stop_child(self) -> None:
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                stream.close()
        try:
            self._process.wait(timeout=10.0)
        except subprocess.TimeoutExpired:
            logger.warning(
                "provenance writer process (pid %d) did not exit; killing it", self.pid
            )
            self._process.kill()
            self._process.wait()


class _ChildGone(Exception):
    """The child process closed its pipes or exited."""


def _error_class(name: str) -> type[errors.FedProvError]:
    found = getattr(errors, name, None)
    if isinstance(found, type) and issubclass(found, errors.FedProvError):
        return found
    return StoreError


def _close_store(store: object) -> None:
    close = getattr(store, "close", None)
    if callable(close):
        close()


# -- child side ----------------------------------------------------------------


def _find_view(store: object) -> Any:
    # The ViewingStore sits inside the DurableStore as .store, and may wrap
    # further stores as .inner; it is the one that counts view updates.
    seen: set[int] = set()
    current: Any = store
    while current is not None and id(current) not in seen:
        if hasattr(current, "update_cpu_seconds"):
            return current
        seen.add(id(current))
        current = getattr(current, "store", None) or getattr(current, "inner", None)
    return None


def _child_stats(writes: int, view: Any) -> WriterStats:
    return WriterStats(
        writes=writes,
        cpu_seconds=time.process_time(),
        view_updates=getattr(view, "updates", 0),
        view_cpu_seconds=getattr(view, "update_cpu_seconds", 0.0),
    )


def _send_reply(out: IO[bytes], message: tuple[Any, ...]) -> None:
    pickle.dump(message, out, protocol=5)
    out.flush()


def _error_reply(err: BaseException) -> tuple[str, str, str]:
    name = type(err).__name__
    if isinstance(err, errors.FedProvError):
        return ("error", name, str(err))
    return ("error", "StoreError", f"{name}: {err}")


def _serve(inp: IO[bytes], out: IO[bytes]) -> int:
    """Serve the parent's requests until it sends "close" or closes the pipe."""
    try:
        _, opener, nice, level = pickle.load(inp)  # noqa: S301 - our parent's pipe
    except EOFError:
        return 0

    # The parent's fedprov log level, so that "fedprov -v" shows the
    # child's DEBUG lines too.
    logging.getLogger("fedprov").setLevel(level)
    if nice:
        try:
            os.nice(nice)
        except OSError as err:
            logger.info("writer process keeps its priority: %s", err)

    try:
        store = opener()
    except Exception as err:  # noqa: BLE001 - every failure goes back to the parent
        _send_reply(out, _error_reply(err))
        return 1

    view = _find_view(store)
    # The reply to a write follows the database write, and the view update
    # comes after it, so a waiting flush does not wait for the view. A
    # strict view raises its failures, so it keeps updating inside write().
    deferring = view is not None and hasattr(view, "apply_pending")
    deferring = deferring and not getattr(view, "strict", False)
    if deferring:
        view.defer_updates = True

    writes = 0
    _send_reply(out, ("ready", _child_stats(writes, view)))
    while True:
        try:
            request = pickle.load(inp)  # noqa: S301 - our parent's pipe
        except EOFError:
            _finish(store, view if deferring else None)
            return 0
        if request[0] == "close":
            _finish(store, view if deferring else None)
            _send_reply(out, ("closed", _child_stats(writes, view)))
            return 0
        _, scope, document = request
        try:
            store.write(scope, document)
        except Exception as err:  # noqa: BLE001 - every failure goes back to the parent
            _send_reply(out, _error_reply(err))
            continue
        writes += 1
        _send_reply(out, ("ok", _child_stats(writes, view)))
        if deferring:
            view.apply_pending()


def _finish(store: object, view: Any) -> None:
    if view is not None:
        view.apply_pending()
    _close_store(store)


def _main() -> int:
    # Ctrl-C in a terminal reaches the whole process group. The parent
    # decides when to stop: it closes the store or its end of the pipe, and
    # the child finishes the write in progress first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Replies go to a copy of the original standard output. File descriptor
    # 1 then points at standard error, so stray prints cannot corrupt them.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s (writer process): %(message)s",
    )
    return _serve(sys.stdin.buffer, out)


if __name__ == "__main__":
    # Run the imported module's _main, not this __main__ copy's, so that the
    # replies pickle WriterStats as fedprov.store.process.WriterStats.
    from fedprov.store.process import _main as main

    sys.exit(main())
