"""Keep the relational view up to date from the captured records.

:class:`ViewMaterializer` applies each PROV document to the tables as it is
written, so the view of a running federation grows round by round, and
rebuilds an experiment's tables from the graph in Neo4j. Applying a
document is an upsert on the natural keys (experiment_id, server_id,
server_round, client_id), so a document applied twice, for example when a
capture journal is replayed, changes nothing.

:class:`ViewingStore` wraps any :class:`~fedprov.store.base.ProvStore` and
applies each document after the wrapped store accepted it.
"""

from __future__ import annotations

import logging
import time
from typing import Any, cast

import neo4j
from prov.model import ProvDocument

from fedprov.errors import FedProvError, StoreError
from fedprov.relational.records import (
    RecordSet,
    records_from_document,
    records_from_graph,
)
from fedprov.relational.rows import (
    CHILD_TABLES,
    Key,
    Rows,
    build_rows,
    collect_fragments,
    derive,
    derive_loaded_weights,
    merge_row,
)
from fedprov.relational.schema import (
    I_SERVER_CONFIG,
    O_CLIENT_TRAINING,
    O_SERVER_TRAINING_AGGREGATION,
    TABLES,
    Table,
    table,
)
from fedprov.relational.view import RelationalView, Session
from fedprov.store.base import ProvStore, ReadableProvStore
from fedprov.store.neo4j.cypher import load_query

__all__ = ["ViewMaterializer", "ViewingStore", "read_graph_records"]

logger = logging.getLogger(__name__)


def read_graph_records(driver: neo4j.Driver, database: str, scope: str) -> RecordSet:
    """Read the records of ``scope`` that the view needs from Neo4j.

    Raises
    ------
    StoreError
        If Neo4j cannot be reached or rejects the query.
    """
    try:
        nodes, _summary, _keys = driver.execute_query(
            load_query("relational/view_records"),
            {"scope": scope},
            database_=database,
            routing_=neo4j.RoutingControl.READ,
        )
        relationships, _summary, _keys = driver.execute_query(
            load_query("relational/view_relations"),
            {"scope": scope},
            database_=database,
            routing_=neo4j.RoutingControl.READ,
        )
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError) as err:
        raise StoreError(
            f"reading run {scope!r} from Neo4j for the relational view failed: {err}"
        ) from err
    return records_from_graph(
        (record.data() for record in nodes), (record.data() for record in relationships)
    )


class _SessionLookup:
    def __init__(self, session: Session) -> None:
        self._session = session

    def value(self, table_: Table, key: Key, column: str) -> Any:
        row = self._session.fetch(table_, key)
        return row.get(column) if row else None


def _write_fragments(session: Session, experiment_id: str, records: RecordSet) -> int:
    fragments = collect_fragments(experiment_id, records, _SessionLookup(session))

    # Merge each contribution with the stored row, then upsert the result.
    parents: set[tuple[str, Key]] = set()
    for (name, key), fragment in fragments.items():
        table_ = table(name)
        stored = session.fetch(table_, key)
        session.upsert(table_, merge_row(table_, stored, fragment))
        if name in CHILD_TABLES:
            parents.add((name, key))
        for parent_name, child in CHILD_TABLES.items():
            if child.name == name:
                parents.add((parent_name, key[:3]))

    # A client that trained from a checkpoint gets the checkpoint's store id,
    # whichever of the two records arrived first.
    trained_from: set[Key] = {
        key
        for (name, key), fragment in fragments.items()
        if name == O_CLIENT_TRAINING.name and "loaded_checkpoint" in fragment
    }
    for (name, key), fragment in fragments.items():
        if (
            name == O_SERVER_TRAINING_AGGREGATION.name
            and "weights_mongo_id" in fragment
        ):
            where = {
                "experiment_id": experiment_id,
                "loaded_checkpoint": f"checkpoint_s{key[1]}_r{key[2]}",
            }
            for row in session.select(O_CLIENT_TRAINING, where):
                trained_from.add(tuple(row[k] for k in O_CLIENT_TRAINING.key))
    lookup = _SessionLookup(session)
    for key in sorted(trained_from):
        stored = session.fetch(O_CLIENT_TRAINING, key)
        if stored is None:
            continue
        derived = derive_loaded_weights(stored, lookup)
        session.upsert(O_CLIENT_TRAINING, merge_row(O_CLIENT_TRAINING, stored, derived))
        parents.add((O_SERVER_TRAINING_AGGREGATION.name, key[:3]))

    # Recompute the derived columns of every aggregation row that changed.
    for name, key in sorted(parents):
        parent = table(name)
        stored = session.fetch(parent, key)
        if stored is None:
            continue
        where = dict(
            zip(("experiment_id", "server_id", "server_round"), key, strict=True)
        )
        children = session.select(CHILD_TABLES[name], where)
        session.upsert(
            parent, merge_row(parent, stored, derive(parent, stored, children))
        )

    # A server's run id reaches rows that were written before its fl:Run record.
    for (name, key), fragment in fragments.items():
        if name == I_SERVER_CONFIG.name and fragment.get("run_id") is not None:
            session.set_run_id(experiment_id, key[1], fragment["run_id"])
    return len(fragments)


class ViewMaterializer:
    """Writes captured records into a :class:`RelationalView`.

    Parameters
    ----------
    view
        The tables to keep up to date.
    driver, database
        The Neo4j graph that :meth:`rebuild` reads; only ``rebuild`` needs it.
    """

    def __init__(
        self,
        view: RelationalView,
        driver: neo4j.Driver | None = None,
        database: str = "neo4j",
    ) -> None:
        self.view = view
        self._driver = driver
        self._database = database

    def apply(self, scope: str, document: ProvDocument) -> int:
        """Upsert the rows that ``document`` contributes to, in one transaction.

        Parameters
        ----------
        scope
            The run key; it becomes ``experiment_id``.
        document
            Records as capture wrote them, any subset of a run, bundles included.

        Returns
        -------
        int
            The number of rows inserted or updated (derived updates not counted).

        Raises
        ------
        StoreError
            If the view's database rejects a statement; nothing is written.
        """
        records = records_from_document(document)
        with self.view.session() as session:
            count = _write_fragments(session, scope, records)
        logger.debug("applied %d rows of run %s to the relational view", count, scope)
        return count

    def expected_rows(self, scope: str) -> Rows:
        """Build the rows of ``scope`` from the graph, without touching the view.

        Raises
        ------
        StoreError
            If no Neo4j driver was given or the graph cannot be read.
        """
        if self._driver is None:
            raise StoreError(
                "the relational view has no Neo4j driver to read the graph from; "
                "pass driver= to ViewMaterializer"
            )
        records = read_graph_records(self._driver, self._database, scope)
        return build_rows(scope, records)

    def rebuild(self, scope: str) -> dict[str, int]:
        """Replace every row of ``scope`` by rows built from the graph.

        Returns
        -------
        dict of str to int
            Rows written per table.

        Raises
        ------
        StoreError
            If the graph cannot be read or the view cannot be written; the
            old rows then stay.
        """
        rows = self.expected_rows(scope)
        with self.view.session() as session:
            session.delete_experiment(scope)
            for table_ in TABLES:
                for row in rows[table_.name].values():
                    session.upsert(table_, row)
        counts = {name: len(by_key) for name, by_key in rows.items()}
        logger.info(
            "rebuilt the relational view of run %s: %d rows",
            scope,
            sum(counts.values()),
        )
        return counts


class ViewingStore:
    """A :class:`~fedprov.store.base.ReadableProvStore` that also updates the view.

    Each document goes to ``inner`` first; once ``inner`` accepted it, the
    materializer applies it. Wrapped inside a
    :class:`~fedprov.store.durable.DurableStore`
    (``DurableStore(journal_dir, ViewingStore(neo4j_store, materializer))``),
    the view follows every successful database write, journal replays
    included, and a replayed document changes no row.

    A failed view update never fails the write, because capture must not
    break a training round: it is logged at WARNING with the run key and
    counted in :attr:`failures`. With ``strict=True`` it is re-raised
    instead (for tests).

    With :attr:`defer_updates` set, :meth:`write` returns once ``inner``
    accepted the document and keeps the view update for
    :meth:`apply_pending`. The writer process of
    :class:`~fedprov.store.process.ProcessStore` sets it, so a waiting
    capture flush (the rules read Neo4j, not the view) does not also wait
    for the view.
    """

    def __init__(
        self, inner: ProvStore, materializer: ViewMaterializer, *, strict: bool = False
    ) -> None:
        self.inner = inner
        self.materializer = materializer
        self.strict = strict
        self.failures = 0
        #: View updates that succeeded, and the CPU seconds of all updates.
        self.updates = 0
        self.update_cpu_seconds = 0.0
        #: Keep view updates for :meth:`apply_pending` instead of applying
        #: them in :meth:`write`.
        self.defer_updates = False
        self._pending: list[tuple[str, ProvDocument]] = []

    def write(self, scope: str, document: ProvDocument) -> None:
        """Store ``document`` in ``inner``, then apply it to the view or keep it."""
        self.inner.write(scope, document)
        if self.defer_updates:
            self._pending.append((scope, document))
        else:
            self._apply(scope, document)

    def apply_pending(self) -> None:
        """Apply the kept view updates in the order of their writes."""
        while self._pending:
            scope, document = self._pending.pop(0)
            self._apply(scope, document)

    def _apply(self, scope: str, document: ProvDocument) -> None:
        started = time.thread_time()
        try:
            self.materializer.apply(scope, document)
            self.updates += 1
        except FedProvError as err:
            self.failures += 1
            if self.strict:
                raise
            logger.warning(
                "updating the relational view for run %s failed (%d so far): %s",
                scope,
                self.failures,
                err,
            )
        finally:
            self.update_cpu_seconds += time.thread_time() - started

    def _readable(self) -> ReadableProvStore:
        if not all(hasattr(self.inner, m) for m in ("read", "delete", "scopes")):
            raise StoreError(
                f"the wrapped store {type(self.inner).__name__} cannot read, delete "
                "or list scopes; wrap a Neo4jProvStore instead"
            )
        return cast(ReadableProvStore, self.inner)

    def read(self, scope: str, bundle: str | None = None) -> ProvDocument:
        """Return the records of ``scope`` from ``inner``."""
        return self._readable().read(scope, bundle)

    def delete(self, scope: str) -> None:
        """Delete ``scope`` from ``inner`` and its rows from the view."""
        self._readable().delete(scope)
        with self.materializer.view.session() as session:
            session.delete_experiment(scope)

    def scopes(self) -> list[str]:
        """Return the scopes of ``inner``."""
        return self._readable().scopes()
