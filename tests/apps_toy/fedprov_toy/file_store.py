"""A ProvStore that writes each fragment as a PROV-JSON file (for ``flwr run``).

The ServerApp of ``flwr run`` runs in a subprocess, so the test reads the
fragments back from ``<folder>/<scope>/<n>.json``.
"""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

from prov.model import ProvDocument


class JsonFolderStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._counter = itertools.count()
        self._lock = threading.Lock()

    def write(self, scope: str, document: ProvDocument) -> None:
        target = self.folder / scope
        target.mkdir(parents=True, exist_ok=True)
        with self._lock:
            number = next(self._counter)
        path = target / f"{number:06d}.json"
        path.write_text(document.serialize(format="json"), encoding="utf-8")

    def read_all(self, scope: str) -> list[ProvDocument]:
        paths = sorted((self.folder / scope).glob("*.json"))
        return [
            ProvDocument.deserialize(content=p.read_text(), format="json")
            for p in paths
        ]
