"""Append-only capture journal: one PROV-JSON line per write, one file per scope.

A journal file ``<journal_dir>/<scope>.jsonl`` holds one JSON object per
line, ``{"scope": ..., "document": <PROV-JSON>}``, appended and fsync'ed
before the database sees the document. A sidecar file
``<scope>.jsonl.committed`` holds the byte offset up to which every entry is
known to be in the database; the entries after it are *pending*. The
sidecar is replaced atomically (write, fsync, rename), so a crash leaves
either the old or the new offset, and replaying an entry twice is harmless
because store writes are idempotent.
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from prov.model import ProvDocument

from fedprov.errors import ProvDocumentError, StoreError

__all__ = ["Journal", "JournalEntry"]

logger = logging.getLogger(__name__)

_SUFFIX = ".jsonl"
_COMMITTED_SUFFIX = ".committed"


@dataclass(frozen=True)
class JournalEntry:
    """One journal line: the document, and the byte offset just after its line."""

    scope: str
    document: ProvDocument
    end_offset: int


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """The journal files of one folder.

    Parameters
    ----------
    directory
        Folder of the journal files; created when missing.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(
                f"cannot create the journal folder {str(self.directory)!r}: {err}; "
                "set FEDPROV_HOME to a writable folder"
            ) from err

    def path(self, scope: str) -> Path:
        """Return the journal file of ``scope`` (the scope name percent-encoded)."""
        return self.directory / f"{quote(scope, safe='')}{_SUFFIX}"

    def _committed_path(self, scope: str) -> Path:
        return self.path(scope).with_name(self.path(scope).name + _COMMITTED_SUFFIX)

    def scopes(self) -> list[str]:
        """Return the scopes that have a journal file, sorted."""
        return sorted(
            unquote(p.name[: -len(_SUFFIX)]) for p in self.directory.glob(f"*{_SUFFIX}")
        )

    def append(self, scope: str, document: ProvDocument) -> int:
        """Append ``document`` as one line and fsync it; return the end offset.

        Raises
        ------
        ProvDocumentError
            If the document cannot be serialised as PROV-JSON.
        StoreError
            If the file cannot be written.
        """
        try:
            payload = json.loads(document.serialize(format="json") or "{}")
        except Exception as err:  # prov raises many types for unserialisable values
            raise ProvDocumentError(
                f"document for scope {scope!r} cannot be serialised as PROV-JSON: {err}"
            ) from err
        line = (
            json.dumps({"scope": scope, "document": payload}, ensure_ascii=False) + "\n"
        )
        data = line.encode("utf-8")

        path = self.path(scope)
        with self._lock:
            try:
                created = not path.exists()
                with open(path, "ab") as stream:
                    # A crash may have left a torn last line: end it, so this
                    # entry starts a line of its own (replay skips the torn one).
                    if stream.tell() > 0 and not self._ends_with_newline(path):
                        stream.write(b"\n")
                    stream.write(data)
                    stream.flush()
                    os.fsync(stream.fileno())
                    end = stream.tell()
                if created:
                    _fsync_dir(self.directory)
            except OSError as err:
                raise StoreError(
                    f"appending to the journal {str(path)!r} of scope {scope!r} "
                    f"failed: {err}"
                ) from err
        return end

    @staticmethod
    def _ends_with_newline(path: Path) -> bool:
        with open(path, "rb") as stream:
            stream.seek(-1, io.SEEK_END)
            return stream.read(1) == b"\n"

    def committed(self, scope: str) -> int:
        """Return the byte offset up to which the scope's entries are written."""
        try:
            return int(
                self._committed_path(scope).read_text(encoding="ascii").strip() or 0
            )
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as err:
            raise StoreError(
                f"the journal offset file {str(self._committed_path(scope))!r} is "
                f"unreadable ({err}); delete it to replay the whole journal"
            ) from err

    def size(self, scope: str) -> int:
        """Return the journal file's size in bytes (0 when there is none)."""
        try:
            return self.path(scope).stat().st_size
        except FileNotFoundError:
            return 0

    def set_committed(self, scope: str, offset: int) -> None:
        """Record that every entry before ``offset`` is in the database."""
        target = self._committed_path(scope)
        temporary = target.with_name(target.name + ".tmp")
        try:
            with open(temporary, "w", encoding="ascii") as stream:
                stream.write(f"{offset}\n")
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, target)
        except OSError as err:
            raise StoreError(
                f"updating the journal offset {str(target)!r} failed: {err}"
            ) from err

    def pending(self, scope: str, start: int | None = None) -> Iterator[JournalEntry]:
        """Yield the entries after the committed offset (or after ``start``).

        A line that is not valid JSON (a write torn by a crash) is skipped with
        a WARNING.
        """
        offset = self.committed(scope) if start is None else start
        path = self.path(scope)
        if not path.exists():
            return
        with open(path, "rb") as stream:
            stream.seek(offset)
            for raw in stream:
                offset += len(raw)
                if not raw.endswith(b"\n"):
                    logger.warning(
                        "journal %s ends with an incomplete line at byte %d; skipped",
                        path,
                        offset - len(raw),
                    )
                    continue
                if not raw.strip():
                    continue
                try:
                    entry = json.loads(raw)
                    document = ProvDocument.deserialize(
                        content=json.dumps(entry["document"]), format="json"
                    )
                except Exception as err:  # a torn or foreign line; keep going
                    logger.warning(
                        "journal %s has an unreadable entry ending at byte %d (%s); "
                        "skipped",
                        path,
                        offset,
                        err,
                    )
                    continue
                yield JournalEntry(entry.get("scope", scope), document, offset)
