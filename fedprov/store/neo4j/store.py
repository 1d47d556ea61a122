"""The Neo4j provenance store: write, read and delete PROV documents by scope.

The graph layout is described in ``docs/provenance-model.md`` ("In Neo4j")
and in :mod:`fedprov.store.neo4j.graph`. Writes send parameter rows with
``UNWIND`` in batches of at most ``batch_size`` rows. Consecutive batches
share a transaction while their rows add up to at most ``batch_size`` (one
transaction for the whole document with :meth:`Neo4jProvStore.write_atomic`).
Every statement merges on ``key``, so writing the same document twice leaves
the graph unchanged.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any, LiteralString, TypeVar

import neo4j
from neo4j.exceptions import DriverError, Neo4jError
from prov.model import ProvDocument

from fedprov.errors import StoreError
from fedprov.store.neo4j.cypher import load_query, load_typed_query
from fedprov.store.neo4j.graph import (
    ELEMENT_LABELS,
    FL_LABELS,
    RELATION_TYPES,
    GraphRows,
    NodeDraft,
    document_key,
    document_to_rows,
    rows_to_document,
)

__all__ = ["DEFAULT_BATCH_SIZE", "Neo4jProvStore"]

logger = logging.getLogger(__name__)

#: Maximum rows per UNWIND statement and per transaction.
DEFAULT_BATCH_SIZE = 5000

_ALLOWED_LABELS = frozenset(ELEMENT_LABELS.values()) | FL_LABELS
_SCHEMA_QUERIES = (
    "store/schema_element_key",
    "store/schema_document_key",
    "store/schema_element_scope",
)

_T = TypeVar("_T")
_Tx = neo4j.ManagedTransaction | neo4j.Transaction
_Step = Callable[[_Tx], Any]


def _batches(rows: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _check_scope(scope: str) -> None:
    if not isinstance(scope, str) or not scope:
        raise StoreError(
            f"invalid scope {scope!r}: expected a non-empty run key string"
        )


class Neo4jProvStore:
    """A :class:`~fedprov.store.base.ProvStore` on one Neo4j database.

    Parameters
    ----------
    driver
        An open driver (see :func:`fedprov.store.neo4j.connection.open_driver`);
        the store does not close it.
    database
        Database name.
    batch_size
        Maximum rows per ``UNWIND`` statement and per transaction.

    Examples
    --------
    >>> store = Neo4jProvStore(driver, "neo4j")  # doctest: +SKIP
    >>> store.write("run-1", document)  # doctest: +SKIP
    >>> store.read("run-1") == document  # doctest: +SKIP
    True
    """

    def __init__(
        self,
        driver: neo4j.Driver,
        database: str,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        if batch_size < 1:
            raise StoreError(
                f"batch_size={batch_size!r} must be a positive number of rows"
            )
        self.driver = driver
        self.database = database
        self.batch_size = batch_size
        self._schema_ready = False

    # Schema -----------------------------------------------------------------

    def ensure_schema(self) -> None:
        """Create the constraints and index the store merges on (idempotent).

        Raises
        ------
        StoreError
            If Neo4j is unreachable or rejects the schema statements.
        """
        if self._schema_ready:
            return
        try:
            with self.driver.session(
                database=self.database, notifications_min_severity="OFF"
            ) as session:
                for name in _SCHEMA_QUERIES:
                    session.run(load_query(name)).consume()
        except (Neo4jError, DriverError, OSError) as err:
            raise StoreError(
                f"creating the fedprov schema in Neo4j failed: {err}"
            ) from err
        self._schema_ready = True

    # Writing ----------------------------------------------------------------

    def write(self, scope: str, document: ProvDocument) -> None:
        """Store every record of ``document`` (bundles included) under ``scope``.

        Each batch of rows is its own transaction, so a failure can leave the
        batches before it written; writing the document again completes it.

        Raises
        ------
        ProvDocumentError
            If a record cannot be stored (see :func:`.graph.document_to_rows`).
        StoreError
            If Neo4j is unreachable or a statement fails.
        """
        _check_scope(scope)
        rows = document_to_rows(scope, document)
        self.ensure_schema()
        try:
            with self.driver.session(
                database=self.database, notifications_min_severity="OFF"
            ) as session:
                self._send(rows, lambda step: session.execute_write(step))
        except (Neo4jError, DriverError, OSError) as err:
            raise StoreError(f"writing scope {scope!r} to Neo4j failed: {err}") from err
        logger.debug("wrote %d records to scope %r", rows.record_count, scope)

    def write_atomic(self, scope: str, document: ProvDocument) -> None:
        """Store ``document`` under ``scope`` in one transaction: all or nothing.

        Raises
        ------
        ProvDocumentError
            If a record cannot be stored.
        StoreError
            If Neo4j is unreachable or a statement fails; nothing is written.
        """
        _check_scope(scope)
        rows = document_to_rows(scope, document)
        self.ensure_schema()
        try:
            with self.driver.session(
                database=self.database, notifications_min_severity="OFF"
            ) as session:
                with session.begin_transaction() as tx:
                    self._send(rows, lambda step: step(tx))
                    tx.commit()
        except (Neo4jError, DriverError, OSError) as err:
            raise StoreError(f"writing scope {scope!r} to Neo4j failed: {err}") from err

    def _send(self, rows: GraphRows, execute: Callable[[_Step], Any]) -> None:
        # Statements run in order: document, bundles, nodes, references, then
        # relationships by type. Consecutive statements share a transaction
        # up to batch_size rows, so a small fragment costs one commit.
        steps: list[tuple[int, _Step]] = [
            (1, partial(_run, name="store/merge_document", document=rows.document))
        ]
        merge_bundles = partial(_run, name="store/merge_bundles")
        for batch in _batches(rows.bundles, self.batch_size):
            steps.append((len(batch), partial(merge_bundles, rows=list(batch))))
        for drafts in _batches(list(rows.nodes.values()), self.batch_size):
            steps.append((len(drafts), partial(_merge_nodes, drafts=drafts)))
        merge_references = partial(_run, name="store/merge_references")
        references = list(rows.references.values())
        for batch in _batches(references, self.batch_size):
            steps.append((len(batch), partial(merge_references, rows=list(batch))))

        by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for relation in rows.relations.values():
            if relation["type"] not in RELATION_TYPES:
                raise StoreError(
                    f"relationship type {relation['type']!r} is not a PROV relation"
                )
            by_type[relation["type"]].append(relation)
        for rel_type, relations in sorted(by_type.items()):
            query = load_typed_query("store/merge_relations", rel_type)
            for batch in _batches(relations, self.batch_size):
                steps.append(
                    (len(batch), partial(_run_text, query=query, rows=list(batch)))
                )

        for group in _transactions(steps, self.batch_size):
            execute(partial(_run_steps, steps=group))

    # Reading ----------------------------------------------------------------

    def read(self, scope: str, bundle: str | None = None) -> ProvDocument:
        """Return the document stored under ``scope``.

        Parameters
        ----------
        scope
            The run key.
        bundle
            A bundle URI: return only that bundle's records, as the top level
            of the returned document.

        Raises
        ------
        StoreError
            If Neo4j is unreachable or the scope does not exist.
        ProvDocumentError
            If ``bundle`` is not a bundle of the scope.
        """
        _check_scope(scope)
        try:
            with self.driver.session(
                database=self.database, notifications_min_severity="OFF"
            ) as session:
                rows = session.execute_read(self._read_rows, scope, bundle)
        except (Neo4jError, DriverError, OSError) as err:
            raise StoreError(
                f"reading scope {scope!r} from Neo4j failed: {err}"
            ) from err
        document_row, bundle_rows, node_rows, relation_rows = rows
        if document_row is None:
            raise StoreError(
                f"scope {scope!r} not found in Neo4j; list the stored scopes with "
                "'fedprov runs' or check the run key"
            )
        return rows_to_document(
            document_row, bundle_rows, node_rows, relation_rows, bundle
        )

    @staticmethod
    def _read_rows(
        tx: neo4j.ManagedTransaction, scope: str, bundle: str | None
    ) -> tuple[
        dict[str, Any] | None,
        list[dict[str, Any]],
        list[dict[str, Any]],
        list[dict[str, Any]],
    ]:
        document = tx.run(
            load_query("store/read_document"), key=document_key(scope)
        ).single()
        bundles = [
            r.data() for r in tx.run(load_query("store/read_bundles"), scope=scope)
        ]
        params = {"scope": scope, "bundle": bundle}
        nodes = [r.data() for r in tx.run(load_query("store/read_nodes"), params)]
        relations = [
            r.data() for r in tx.run(load_query("store/read_relations"), params)
        ]
        return (document.data() if document else None), bundles, nodes, relations

    def scopes(self) -> list[str]:
        """Return every stored scope, sorted.

        Raises
        ------
        StoreError
            If Neo4j is unreachable.
        """
        try:
            records, _, _ = self.driver.execute_query(
                load_query("store/list_scopes"), database_=self.database
            )
        except (Neo4jError, DriverError, OSError) as err:
            raise StoreError(f"listing scopes in Neo4j failed: {err}") from err
        return [record["scope"] for record in records]

    def has_scope(self, scope: str) -> bool:
        """Return whether ``scope`` has been written."""
        return scope in self.scopes()

    # Deleting ---------------------------------------------------------------

    def delete(self, scope: str) -> None:
        """Delete every node and relationship of ``scope`` (no error if absent).

        Raises
        ------
        StoreError
            If Neo4j is unreachable or the deletion fails.
        """
        _check_scope(scope)
        try:
            with self.driver.session(
                database=self.database, notifications_min_severity="OFF"
            ) as session:
                session.run(load_query("store/delete_scope"), scope=scope).consume()
                session.run(
                    load_query("store/delete_document"), key=document_key(scope)
                ).consume()
        except (Neo4jError, DriverError, OSError) as err:
            raise StoreError(
                f"deleting scope {scope!r} from Neo4j failed: {err}"
            ) from err
        logger.debug("deleted scope %r", scope)


def _run(tx: _Tx, name: str, **params: Any) -> list[dict[str, Any]]:
    return [record.data() for record in tx.run(load_query(name), params)]


def _transactions(
    steps: Sequence[tuple[int, _Step]], max_rows: int
) -> Iterator[list[_Step]]:
    # Group consecutive steps while their rows add up to at most max_rows; a
    # step is never split, so a group contains at least one step.
    group: list[_Step] = []
    rows = 0
    for count, step in steps:
        if group and rows + count > max_rows:
            yield group
            group, rows = [], 0
        group.append(step)
        rows += count
    if group:
        yield group


def _run_steps(tx: _Tx, steps: Sequence[_Step]) -> None:
    for step in steps:
        step(tx)


def _run_text(tx: _Tx, query: LiteralString, **params: Any) -> None:
    tx.run(query, params).consume()


def _merge_nodes(tx: _Tx, drafts: Sequence[NodeDraft]) -> None:
    # A node that earlier writes declared differently comes back from the
    # merge unchanged. It then gets the union of both declaration lists, so
    # it keeps every distinct declaration of its identifier.
    node_rows = [draft.row() for draft in drafts]
    for node in node_rows:
        _check_labels(node["labels"])
    stored = {
        row["key"]: row["declarations"]
        for row in _run(tx, "store/merge_nodes", rows=node_rows)
    }
    if not stored:
        return
    merged = [draft.row(stored[draft.key]) for draft in drafts if draft.key in stored]
    for node in merged:
        _check_labels(node["labels"])
    _run(tx, "store/update_nodes", rows=merged)


def _check_labels(labels: Sequence[str]) -> None:
    for label in labels:
        if label not in _ALLOWED_LABELS:
            raise StoreError(f"node label {label!r} is not in the fedprov vocabulary")
