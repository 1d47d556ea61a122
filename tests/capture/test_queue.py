"""CaptureQueue drops, counts and logs instead of blocking or raising."""

from __future__ import annotations

import logging
import threading

import pytest
from capture_helpers import MemoryStore
from prov.model import ProvDocument

from fedprov.capture import CaptureQueue
from fedprov.errors import CaptureError


class BlockingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def write(self, scope: str, document: ProvDocument) -> None:
        self.release.wait(10)
        super().write(scope, document)


def test_queue_writes_in_order(memory_store: MemoryStore) -> None:
    queue = CaptureQueue(memory_store)
    documents = [ProvDocument() for _ in range(5)]
    for document in documents:
        assert queue.put("scope-a", document)
    assert queue.close()
    assert memory_store.documents["scope-a"] == documents
    assert queue.stats.written == 5


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
