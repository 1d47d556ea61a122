"""Fixtures for the capture tests: the toy app on sys.path and a memory store."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from capture_helpers import MemoryStore

TOY_APP_DIR = Path(__file__).resolve().parents[1] / "apps_toy"
if str(TOY_APP_DIR) not in sys.path:
    sys.path.insert(0, str(TOY_APP_DIR))


@pytest.fixture
def memory_store() -> MemoryStore:
    return MemoryStore()
