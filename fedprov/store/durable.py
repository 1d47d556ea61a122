"""A store that journals every document before it writes it to Neo4j.

:class:`DurableStore` is what capture code writes to. A write first appends
the document to the scope's journal (fsync'ed), then writes it to the
database. When the database is unreachable or the write fails, the store
logs a WARNING with the scope and the error, counts the failure and returns:
capture never breaks a training round. The journal keeps the document, and
:meth:`DurableStore.replay` (or the next successful write) sends it later.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prov.model import ProvDocument

from fedprov.errors import AuthenticationError, StoreError
from fedprov.settings import Settings
from fedprov.store.base import ReadableProvStore
from fedprov.store.journal import Journal

if TYPE_CHECKING:
    import neo4j

__all__ = ["DEFAULT_RETRY_INTERVAL", "DurableStore", "open_store"]

logger = logging.getLogger(__name__)

#: Seconds after a failed database write during which writes only journal.
DEFAULT_RETRY_INTERVAL = 5.0


class DurableStore:
    """Journal first, then the database; never loses an accepted document.

    Parameters
    ----------
    journal_dir
        Folder of the journal files (usually ``Settings.journal_dir``).
    store
        The database store, or ``None`` to only journal (replay later).
    strict
        Re-raise database errors instead of logging them (for tests).
    retry_interval
        Seconds to wait after a failed database write before trying the
        database again; writes in between are journaled only.

    Attributes
    ----------
    failed_writes
        Number of writes whose database step failed or was skipped.
    """

    def __init__(
        self,
        journal_dir: Path,
        store: ReadableProvStore | None,
        *,
        strict: bool = False,
        retry_interval: float = DEFAULT_RETRY_INTERVAL,
        driver: Any = None,
    ) -> None:
        self.journal = Journal(journal_dir)
        self.store = store
        self.strict = strict
        self.retry_interval = retry_interval
        self.failed_writes = 0
        self._driver = driver
        self._lock = threading.RLock()
        self._retry_after = 0.0

    # ProvStore --------------------------------------------------------------

    def write(self, scope: str, document: ProvDocument) -> None:
        """Journal ``document`` under ``scope``, then write it to the database.

        Raises
        ------
        ProvDocumentError
            If the document cannot be serialised (nothing is journaled).
        StoreError
            If the journal cannot be written, or, with ``strict``, if the
            database write fails.
        """
        with self._lock:
            start = self.journal.size(scope)
            end = self.journal.append(scope, document)
            if self.store is None:
                self._count_failure(scope, "no database is configured (journal only)")
                return
            if time.monotonic() < self._retry_after:
                self._count_failure(
                    scope, "the database failed recently; retrying later"
                )
                return
            try:
                if self.journal.committed(scope) < start:
                    # Earlier entries are pending: send them in order first.
                    self._replay_scope(scope)
                else:
                    self.store.write(scope, document)
                    self.journal.set_committed(scope, end)
            except StoreError as err:
                self._retry_after = time.monotonic() + self.retry_interval
                self._count_failure(scope, str(err))
                if self.strict:
                    raise

    def _count_failure(self, scope: str, reason: str) -> None:
        self.failed_writes += 1
        logger.warning(
            "provenance for scope %r kept in the journal only (%d so far): %s",
            scope,
            self.failed_writes,
            reason,
        )

    def read(self, scope: str, bundle: str | None = None) -> ProvDocument:
        """Read ``scope`` from the database store."""
        return self._require_store().read(scope, bundle)

    def delete(self, scope: str) -> None:
        """Delete ``scope`` from the database store (the journal is kept)."""
        self._require_store().delete(scope)

    def scopes(self) -> list[str]:
        """Return the scopes in the database and in the journal, sorted."""
        names = set(self.journal.scopes())
        if self.store is not None:
            names.update(self.store.scopes())
        return sorted(names)

    def _require_store(self) -> ReadableProvStore:
        if self.store is None:
            raise StoreError(
                "no database is connected (journal-only mode); start Neo4j, check "
                "NEO4J_URI and run 'fedprov replay'"
            )
        return self.store

    # Replay -----------------------------------------------------------------

    def pending_scopes(self) -> list[str]:
        """Return the scopes whose journal has entries not yet in the database."""
        return [
            s
            for s in self.journal.scopes()
            if self.journal.committed(s) < self.journal.size(s)
        ]

    def replay(self, scope: str | None = None) -> int:
        """Write the pending journal entries of ``scope`` (default: all scopes).

        Entries are written in journal order and the committed offset moves
        after each one, so an interrupted replay resumes where it stopped and
        a repeated replay writes nothing.

        Returns
        -------
        int
            Number of entries written.

        Raises
        ------
        StoreError
            If no database store is set or a write fails.
        """
        self._require_store()
        with self._lock:
            scopes = [scope] if scope is not None else self.journal.scopes()
            written = sum(self._replay_scope(name) for name in scopes)
            self._retry_after = 0.0
        if written:
            logger.info("replayed %d journal entries", written)
        return written

    def _replay_scope(self, scope: str) -> int:
        store = self._require_store()
        written = 0
        for entry in self.journal.pending(scope):
            store.write(scope, entry.document)
            self.journal.set_committed(scope, entry.end_offset)
            written += 1
        # Skipped (unreadable) lines at the end are committed too.
        self.journal.set_committed(scope, self.journal.size(scope))
        return written

    def close(self) -> None:
        """Close the driver that :func:`open_store` opened, if any."""
        if self._driver is not None:
            self._driver.close()
            self._driver = None


def open_store(
    settings: Settings,
    *,
    strict: bool = False,
    with_view: bool = False,
) -> DurableStore:
    """Open a :class:`DurableStore` on the configured Neo4j and journal folder.

    When Neo4j cannot be reached, the store starts in journal-only mode with
    a WARNING; run ``fedprov replay`` once the database is back. With
    ``with_view``, every successful Neo4j write (replays included) also
    updates the relational view (:mod:`fedprov.relational`); a view that
    cannot be opened is skipped with a WARNING (``fedprov view rebuild``
    fills it later).

    Raises
    ------
    AuthenticationError
        If Neo4j rejects the credentials (a setting to fix, not an outage).
    StoreError
        With ``strict``, if Neo4j cannot be reached.
    """
    # Imported here so that journal-only use does not need the driver module.
    from fedprov.store.neo4j.connection import open_driver
    from fedprov.store.neo4j.store import Neo4jProvStore

    try:
        driver, database = open_driver(settings)
    except AuthenticationError:
        raise
    except StoreError as err:
        if strict:
            raise
        logger.warning("Neo4j is unreachable, journaling only: %s", err)
        return DurableStore(settings.journal_dir, None)
    inner: ReadableProvStore = Neo4jProvStore(driver, database)
    if with_view:
        inner = _with_view(settings, inner, driver, database, strict)
    return DurableStore(settings.journal_dir, inner, strict=strict, driver=driver)


def _with_view(
    settings: Settings,
    inner: ReadableProvStore,
    driver: neo4j.Driver,
    database: str,
    strict: bool,
) -> ReadableProvStore:
    from fedprov.relational import ViewingStore, ViewMaterializer, open_view

    try:
        view = open_view(settings)
    except Exception as err:  # noqa: BLE001 - any backend failure only disables the view
        if strict:
            raise
        logger.warning("relational view not updated during this run: %s", err)
        return inner
    materializer = ViewMaterializer(view, driver, database)
    return ViewingStore(inner, materializer, strict=strict)
