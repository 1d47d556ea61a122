"""CaptureQueue drops, counts and logs instead of blocking or raising."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path

import pytest
from capture_helpers import MemoryStore
from prov.model import ProvDocument

from fedprov.capture import CaptureQueue
from fedprov.errors import CaptureError


class BlockingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Event()

    def write(self, scope: str, document: ProvDocument) -> None:
        self.entered.set()
        self.release.wait(10)
        super().write(scope, document)


def test_queue_writes_in_order(memory_store: MemoryStore) -> None:
    queue = CaptureQueue(memory_store, max_batch=1)
    documents = [ProvDocument() for _ in range(5)]
    for document in documents:
        assert queue.put("scope-a", document)
    assert queue.close()
    assert memory_store.documents["scope-a"] == documents
    assert queue.stats.written == 5
    assert queue.stats.writes == 5


def _fragment(local_name: str) -> ProvDocument:
    document = ProvDocument()
    document.add_namespace("ex", "http://example.org/")
    document.add_namespace("unused", "http://example.org/unused#")
    document.entity(f"ex:{local_name}", {"ex:n": 1})
    return document


def test_queue_merges_waiting_fragments() -> None:
    store = BlockingStore()
    queue = CaptureQueue(store, linger=0)
    queue.put("scope-g", _fragment("first"))
    assert store.entered.wait(5)
    # The thread now waits inside the first write; these four queue up.
    for name in ("a", "b", "c", "d"):
        queue.put("scope-g", _fragment(name))
    queue.put("scope-h", _fragment("other"))
    store.release.set()
    assert queue.close()

    written = store.documents["scope-g"]
    assert len(written) == 2
    merged = written[1]
    ids = sorted(str(record.identifier) for record in merged.get_records())
    assert ids == ["ex:a", "ex:b", "ex:c", "ex:d"]
    prefixes = {ns.prefix for ns in merged.get_registered_namespaces()}
    assert prefixes == {"ex", "unused"}
    assert len(store.documents["scope-h"]) == 1
    assert queue.stats.written == 6
    assert queue.stats.writes == 3
    assert queue.stats.write_seconds > 0


def test_queue_linger_merges_close_fragments(memory_store: MemoryStore) -> None:
    queue = CaptureQueue(memory_store, linger=30)
    queue.put("scope-j", _fragment("a"))
    time.sleep(0.2)
    queue.put("scope-j", _fragment("b"))
    # flush ends the 30 s wait long before its own 10 s timeout.
    assert queue.flush(10)
    assert len(memory_store.documents["scope-j"]) == 1
    assert queue.stats.written == 2
    assert queue.stats.writes == 1
    queue.close()


def test_queue_without_linger_writes_at_once(memory_store: MemoryStore) -> None:
    queue = CaptureQueue(memory_store, linger=0)
    queue.put("scope-k", _fragment("a"))
    deadline = time.monotonic() + 5
    while not memory_store.documents["scope-k"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(memory_store.documents["scope-k"]) == 1
    queue.close()


@pytest.mark.parametrize("linger", [-1.0, float("nan")])
def test_queue_invalid_linger(memory_store: MemoryStore, linger: float) -> None:
    with pytest.raises(CaptureError, match="linger=.* is invalid"):
        CaptureQueue(memory_store, linger=linger)


def test_queue_failed_batch_counts_each_fragment(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = BlockingStore()
    queue = CaptureQueue(store, linger=0)
    queue.put("scope-i", _fragment("first"), {"round": 1})
    assert store.entered.wait(5)
    queue.put("scope-i", _fragment("a"), {"round": 2})
    queue.put("scope-i", _fragment("b"), {"round": 3})
    store.fail = True
    with caplog.at_level(logging.WARNING, logger="fedprov"):
        store.release.set()
        assert queue.flush(5)
    assert queue.stats.failed == 3
    assert "round=2" in caplog.text
    assert "round=3" in caplog.text
    queue.close()


def test_queue_full_drops_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    store = BlockingStore()
    queue = CaptureQueue(store, maxsize=1)
    with caplog.at_level(logging.WARNING, logger="fedprov"):
        results = [
            queue.put("scope-b", ProvDocument(), {"run": 7, "round": 2, "node": 99})
            for _ in range(4)
        ]
    assert results.count(False) >= 2
    assert queue.stats.dropped == results.count(False)
    assert "run=7 round=2 node=99" in caplog.text
    store.release.set()
    queue.close()


def test_queue_store_failure_counted(
    memory_store: MemoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    memory_store.fail = True
    queue = CaptureQueue(memory_store)
    with caplog.at_level(logging.WARNING, logger="fedprov"):
        queue.put("scope-c", ProvDocument(), {"run": 1, "round": 3})
        assert queue.flush(5)
    assert queue.stats.failed == 1
    assert "ConnectionError: store is down" in caplog.text
    assert "round=3" in caplog.text
    queue.close()


def test_queue_strict_reraises(memory_store: MemoryStore) -> None:
    memory_store.fail = True
    queue = CaptureQueue(memory_store, strict=True)
    queue.put("scope-d", ProvDocument())
    with pytest.raises(CaptureError, match="store is down"):
        queue.flush(5)
    queue.close()


def test_queue_strict_full_raises() -> None:
    store = BlockingStore()
    queue = CaptureQueue(store, maxsize=1, strict=True)
    with pytest.raises(CaptureError, match="capture queue is full"):
        for _ in range(4):
            queue.put("scope-e", ProvDocument())
    store.release.set()
    queue.close()


def test_queue_put_after_close_dropped(memory_store: MemoryStore) -> None:
    queue = CaptureQueue(memory_store)
    queue.close()
    assert not queue.put("scope-f", ProvDocument())
    assert queue.stats.dropped == 1


def test_queue_invalid_maxsize(memory_store: MemoryStore) -> None:
    with pytest.raises(CaptureError, match="maxsize=0 is invalid"):
        CaptureQueue(memory_store, maxsize=0)


def test_queue_invalid_max_batch(memory_store: MemoryStore) -> None:
    with pytest.raises(CaptureError, match="max_batch=0 is invalid"):
        CaptureQueue(memory_store, max_batch=0)


def _thread_nice(native_id: int) -> int:
    # Field 19 of proc(5)'s stat, counted after the parenthesised name.
    stat = Path(f"/proc/self/task/{native_id}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice")
def test_queue_thread_runs_nicer(memory_store: MemoryStore) -> None:
    queue = CaptureQueue(memory_store, nice=5)
    queue.put("scope-n", _fragment("a"))
    assert queue.flush(10)
    native_id = queue._thread.native_id
    assert native_id is not None

    assert _thread_nice(native_id) == min(19, os.nice(0) + 5)
    assert os.getpriority(os.PRIO_PROCESS, os.getpid()) == os.nice(0)
    queue.close()


@pytest.mark.parametrize("nice", [-1, 20, 2.5])
def test_queue_invalid_nice(memory_store: MemoryStore, nice: object) -> None:
    with pytest.raises(CaptureError, match=f"nice={nice!r} is invalid"):
        CaptureQueue(memory_store, nice=nice)  # type: ignore[arg-type]


def test_queue_flush_wakes_lingering_thread(
    memory_store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With polls 60 s apart, only the flush's wake-up mark can end the
    # thread's wait for more fragments before the flush times out.
    monkeypatch.setattr("fedprov.capture.capture_queue._LINGER_POLL", 60.0)
    queue = CaptureQueue(memory_store, linger=120.0)
    queue.put("scope-a", ProvDocument())

    assert queue.flush(timeout=10.0)
    assert queue.stats.written == 1
    assert queue.close(timeout=10.0)


def test_queue_flush_after_close_returns(memory_store: MemoryStore) -> None:
    queue = CaptureQueue(memory_store)
    queue.put("scope-a", ProvDocument())
    assert queue.close()

    assert queue.flush(timeout=1.0)
    assert queue._queue.unfinished_tasks == 0


def test_queue_flush_when_idle_returns(memory_store: MemoryStore) -> None:
    queue = CaptureQueue(memory_store)

    assert queue.flush(timeout=5.0)
    assert queue.flush(timeout=5.0)
    assert queue.close()
    assert memory_store.documents == {}
