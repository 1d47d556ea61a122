"""RunRecorder's timing of the calls that run on the ServerApp's thread."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest
from capture_helpers import MemoryStore

from fedprov.capture import CaptureQueue, RunRecorder
from fedprov.capture import recorder as recorder_module


def test_recorder_times_outermost_call_only(
    memory_store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each perf_counter() call moves one second ahead. record_config reads
    # the clock at 0 and 2, and the begin_round it calls reads it once, at 1,
    # when it starts. Timing begin_round too would give 4 s.
    ticks = itertools.count()
    fake_time = SimpleNamespace(perf_counter=lambda: float(next(ticks)))
    monkeypatch.setattr(recorder_module, "time", fake_time)
    queue = CaptureQueue(memory_store, linger=0)
    recorder = RunRecorder(queue, "timing-run")

    recorder.record_config(1, {"lr": 0.1})

    assert recorder.stats.record_seconds == 2.0
    assert queue.close()


def test_recorder_time_grows_per_call(memory_store: MemoryStore) -> None:
    queue = CaptureQueue(memory_store, linger=0)
    recorder = RunRecorder(queue, "timing-run")

    recorder.record_config(1, {"lr": 0.1})
    after_first = recorder.stats.record_seconds
    recorder.record_sampled(1, "train", [11, 12])

    assert after_first > 0
    assert recorder.stats.record_seconds > after_first
    assert queue.close()
