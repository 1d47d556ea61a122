"""A bounded queue that writes PROV fragments to a store from a background thread.

Capture must never block or break a training round. :meth:`CaptureQueue.put`
returns at once: when the queue is full the fragment is dropped, and when the
store raises the fragment is lost. Both are logged at WARNING with the run,
round and node ids of the fragment and counted in :attr:`CaptureQueue.stats`.
With ``strict=True`` (meant for tests) a full queue raises
:class:`~fedprov.errors.CaptureError` from ``put``, and a failed write is
raised from the next ``put``, ``flush`` or ``close``.

The thread writes the fragments of one scope that arrive together as one
merged document, so a burst of small fragments costs one journal append, one
Neo4j write and one view update instead of one each. After the first
fragment of a write it waits up to ``linger`` seconds for more, unless a
:meth:`CaptureQueue.flush` or :meth:`CaptureQueue.close` is waiting.

On Linux the thread can run at a lower priority than the process
(``nice``), because the nice value is a per-thread attribute there
(setpriority(2)). The default keeps the process's priority: a thread that
the kernel preempts while it holds the GIL makes every other thread of the
process wait, so a lower-priority writer thread slows the ServerApp's own
work. To keep the writes' CPU time away from training, write through a
:class:`~fedprov.store.process.ProcessStore`, whose child process runs at a
lower priority with a GIL of its own.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from prov.model import ProvDocument

from fedprov.errors import CaptureError
from fedprov.prov.merge import merge_documents
from fedprov.store.base import ProvStore

__all__ = ["CaptureQueue", "CaptureStats"]

logger = logging.getLogger(__name__)

#: Default number of fragments the queue keeps before it drops new ones.
DEFAULT_MAXSIZE = 10_000

#: Default maximum number of waiting fragments merged into one write.
DEFAULT_MAX_BATCH = 64

#: Default seconds the thread waits for more fragments before a write. A round
#: queues its fragments in bursts (round start, each reply, aggregation). The
#: rule engine flushes the queue before it reads, and the monitor shows new
#: records up to this much later.
DEFAULT_LINGER = 1.0

#: Default increment of the thread's nice value over the process's (Linux).
DEFAULT_NICE = 0

# Seconds between the thread's checks for a waiting flush while it lingers.
_LINGER_POLL = 0.05


@dataclass
class CaptureStats:
    """Counters of one queue; read them after :meth:`CaptureQueue.flush`."""

    #: Fragments accepted by ``put``.
    queued: int = 0
    #: Fragments the store accepted.
    written: int = 0
    #: Fragments dropped because the queue was full or already closed.
    dropped: int = 0
    #: Fragments lost because ``store.write`` raised.
    failed: int = 0
    #: Calls of ``store.write``; below ``written`` when fragments were merged.
    writes: int = 0
    #: Seconds the background thread spent in ``store.write``.
    write_seconds: float = 0.0
    #: CPU seconds of the background thread in ``store.write`` (its own
    #: thread's time, not that of a database server).
    write_cpu_seconds: float = 0.0


@dataclass
class _Item:
    scope: str
    document: ProvDocument
    ids: Mapping[str, object] = field(default_factory=dict)


_STOP = object()
# Queued by flush() so that a thread lingering for more fragments wakes at
# once instead of at its next poll.
_WAKE = object()


class CaptureQueue:
    """Hand PROV documents to a :class:`~fedprov.store.base.ProvStore` in order.

    Parameters
    ----------
    store
        Where fragments go; ``store.write(scope, document)`` runs on the
        queue's thread only, so the store needs no locking of its own.
    maxsize
        Fragments held before ``put`` drops new ones (default 10,000).
    strict
        Raise instead of dropping or logging (tests).
    name
        Name of the background thread.
    max_batch
        Maximum number of waiting fragments of one scope that are merged into
        one ``store.write`` (1 writes each fragment on its own).
    linger
        Seconds to wait for more fragments before a write (0 writes what is
        waiting at once). A pending :meth:`flush` or :meth:`close` ends the
        wait.
    nice
        How much lower than the process's the thread's priority is, 0 to 19
        (Linux only; elsewhere the thread keeps the process's priority).
        0 keeps the process's priority.
    """

    def __init__(
        self,
        store: ProvStore,
        *,
        maxsize: int = DEFAULT_MAXSIZE,
        strict: bool = False,
        name: str = "fedprov-capture",
        max_batch: int = DEFAULT_MAX_BATCH,
        linger: float = DEFAULT_LINGER,
        nice: int = DEFAULT_NICE,
    ) -> None:
        if maxsize < 1:
            raise CaptureError(
                f"maxsize={maxsize!r} is invalid: a capture queue needs room for "
                "at least 1 fragment"
            )
        if max_batch < 1:
            raise CaptureError(
                f"max_batch={max_batch!r} is invalid: use 1 to write each "
                "fragment on its own, or more to merge waiting fragments"
            )
        if not linger >= 0:
            raise CaptureError(
                f"linger={linger!r} is invalid: give the seconds to wait for more "
                "fragments, 0 or more"
            )
        if not isinstance(nice, int) or not 0 <= nice <= 19:
            raise CaptureError(
                f"nice={nice!r} is invalid: give how much lower the capture "
                "thread's priority is, an integer from 0 to 19"
            )
        self.max_batch = max_batch
        self.linger = linger
        self.nice = nice
        # Number of flush() calls in progress. The thread does not linger
        # while it is above 0.
        self._flushers = 0
        self.store = store
        self.strict = strict
        self.stats = CaptureStats()
        self._queue: queue.Queue[_Item | object] = queue.Queue(maxsize=maxsize)
        self._closed = False
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, name=name, daemon=True)
        self._thread.start()

    def put(
        self,
        scope: str,
        document: ProvDocument,
        ids: Mapping[str, object] | None = None,
    ) -> bool:
        """Queue ``document`` for ``scope`` without waiting; return whether it was.

        Parameters
        ----------
        scope
            The run key the store files the records under.
        document
            The fragment; the caller must not change it afterwards.
        ids
            Run, round and node ids that a warning about this fragment names.

        Raises
        ------
        CaptureError
            In strict mode only: the queue is full or closed, or an earlier
            write failed.
        """
        self._raise_pending()
        item = _Item(scope, document, dict(ids or {}))
        if self._closed:
            return self._drop(item, "the capture queue is closed")
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            return self._drop(
                item, f"the capture queue is full ({self._queue.maxsize})"
            )
        with self._lock:
            self.stats.queued += 1
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued fragment was written or failed.

        Parameters
        ----------
        timeout
            Seconds to wait at most; ``None`` waits as long as it takes.

        Returns
        -------
        bool
            Whether the queue was empty before the timeout.

        Raises
        ------
        CaptureError
            In strict mode, when a write failed.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._flushers += 1
            # After close() the thread is gone and would never take the mark.
            if not self._closed:
                try:
                    self._queue.put_nowait(_WAKE)
                except queue.Full:
                    pass  # a full queue gives the thread entries to take
        try:
            with self._queue.all_tasks_done:
                while self._queue.unfinished_tasks:
                    remaining = (
                        None if deadline is None else deadline - time.monotonic()
                    )
                    if remaining is not None and remaining <= 0:
                        break
                    self._queue.all_tasks_done.wait(remaining)
                done = self._queue.unfinished_tasks == 0
        finally:
            with self._lock:
                self._flushers -= 1
        self._raise_pending()
        return done

    def close(self, timeout: float | None = 30.0) -> bool:
        """Write what is queued, stop the thread and return whether all was written.

        Fragments put after ``close`` are dropped. Calling ``close`` twice is
        harmless.

        Parameters
        ----------
        timeout
            Seconds to wait for the queue to empty (default 30).

        Raises
        ------
        CaptureError
            In strict mode, when a write failed.
        """
        if self._closed:
            self._raise_pending()
            return self._queue.unfinished_tasks == 0
        done = self.flush(timeout) if not self.strict else self._flush_quiet(timeout)
        with self._lock:
            self._closed = True
        try:
            self._queue.put_nowait(_STOP)
        except queue.Full:
            logger.warning(
                "capture queue still held %d fragments after %s s; they are lost",
                self._queue.qsize(),
                timeout,
            )
        self._thread.join(timeout=1.0 if done else 0.1)
        self._raise_pending()
        logger.info(
            "capture wrote %d provenance fragments in %d store writes "
            "(%.2f s, %.2f s CPU)",
            self.stats.written,
            self.stats.writes,
            self.stats.write_seconds,
            self.stats.write_cpu_seconds,
        )
        if self.stats.dropped or self.stats.failed:
            logger.warning(
                "capture lost fragments: %d dropped, %d failed writes "
                "(%d written of %d queued)",
                self.stats.dropped,
                self.stats.failed,
                self.stats.written,
                self.stats.queued,
            )
        return done

    def _flush_quiet(self, timeout: float | None) -> bool:
        # close() raises a pending strict error only after it stopped the thread.
        error, self._error = self._error, None
        try:
            return self.flush(timeout)
        finally:
            if self._error is None:
                self._error = error

    def _drop(self, item: _Item, reason: str) -> bool:
        with self._lock:
            self.stats.dropped += 1
            dropped = self.stats.dropped
        if self.strict:
            raise CaptureError(
                f"provenance fragment {_describe(item)} was dropped: {reason}; "
                "raise maxsize or make the store faster"
            )
        logger.warning(
            "dropped provenance fragment %s: %s (%d dropped so far)",
            _describe(item),
            reason,
            dropped,
        )
        return False

    def _drain(self) -> None:
        _lower_priority(self.nice)
        carried: _Item | object | None = None
        while True:
            item = carried if carried is not None else self._queue.get()
            carried = None
            if item is _WAKE:
                self._queue.task_done()
                continue
            if item is _STOP:
                self._queue.task_done()
                return
            assert isinstance(item, _Item)  # noqa: S101 - the queue holds _Item only
            batch = [item]
            # Take the fragments that arrive within the linger time, up to the
            # first of another scope (written next, so the order per scope
            # holds) or the stop mark.
            deadline = time.monotonic() + self.linger
            while len(batch) < self.max_batch:
                waiting = self._next_waiting(deadline)
                if waiting is None:
                    break
                if isinstance(waiting, _Item) and waiting.scope == item.scope:
                    batch.append(waiting)
                else:
                    carried = waiting
                    break
            try:
                self._write(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _next_waiting(self, deadline: float) -> _Item | object | None:
        # The next queued entry, or None once nothing came before the
        # deadline or a flush is waiting.
        while True:
            try:
                entry = self._queue.get_nowait()
            except queue.Empty:
                entry = None
            if entry is None:
                remaining = deadline - time.monotonic()
                with self._lock:
                    hurry = self._flushers > 0 or self._closed
                if remaining <= 0 or hurry:
                    return None
                try:
                    entry = self._queue.get(timeout=min(remaining, _LINGER_POLL))
                except queue.Empty:
                    continue
            if entry is not _WAKE:
                return entry
            # A flush is waiting: take what is already queued, then write.
            self._queue.task_done()

    def _write(self, batch: list[_Item]) -> None:
        first = batch[0]
        started = time.perf_counter()
        cpu_started = time.thread_time()
        try:
            document = (
                first.document
                if len(batch) == 1
                else merge_documents(item.document for item in batch)
            )
            self.store.write(first.scope, document)
        except Exception as err:  # noqa: BLE001 - capture must survive any store error
            with self._lock:
                self.stats.failed += len(batch)
                self.stats.write_seconds += time.perf_counter() - started
                self.stats.write_cpu_seconds += time.thread_time() - cpu_started
                failed = self.stats.failed
                if self.strict and self._error is None:
                    self._error = err
            logger.warning(
                "provenance write failed for %s: %s: %s (%d failed so far)",
                ", ".join(_describe(item) for item in batch),
                type(err).__name__,
                err,
                failed,
            )
            return
        with self._lock:
            self.stats.written += len(batch)
            self.stats.writes += 1
            self.stats.write_seconds += time.perf_counter() - started
            self.stats.write_cpu_seconds += time.thread_time() - cpu_started
        logger.debug(
            "wrote %d provenance fragments, the first %s", len(batch), _describe(first)
        )

    def _raise_pending(self) -> None:
        if not self.strict:
            return
        with self._lock:
            error, self._error = self._error, None
        if error is not None:
            raise CaptureError(
                f"a provenance write failed: {type(error).__name__}: {error}; "
                "check that the store is reachable"
            ) from error


def _lower_priority(increment: int) -> None:
    # Add increment to the calling thread's nice value. Linux applies
    # setpriority() with a thread id to that thread alone. Elsewhere the nice
    # value belongs to the process and a thread id is no process id, so the
    # thread keeps its priority.
    if increment == 0 or not sys.platform.startswith("linux"):
        return
    thread_id = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, thread_id)
        os.setpriority(os.PRIO_PROCESS, thread_id, min(19, current + increment))
    except OSError as err:
        logger.info("capture thread keeps the process's priority: %s", err)


def _describe(item: _Item) -> str:
    ids = " ".join(f"{key}={value}" for key, value in item.ids.items())
    return f"[scope={item.scope} {ids}]".replace(" ]", "]")
