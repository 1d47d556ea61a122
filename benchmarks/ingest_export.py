"""Benchmark: ingest fedprov's records into Neo4j, then export them as PROV-JSON.

Generates the records that capture writes for ``--clients`` clients over
``--rounds`` rounds (per client and round: a local training activity, its
update and metrics entities, and the used / generated / attributed /
associated / informed / derived edges, with ``fl:numExamples`` and
``fl:aggregationWeight`` on the derivation), one ProvDocument per round.

Measures

* ingest with :class:`Neo4jProvStore` (UNWIND batches) in records per
  second, beside a naive writer that sends one auto-commit statement per
  record on a subset of the rounds; the naive rate is extrapolated to the
  whole run and labelled as such;
* PROV-JSON export with the streaming exporter, beside reading the scope
  into a ``prov.model.ProvDocument`` and serialising it with ``prov``:
  wall time, and peak Python memory from ``tracemalloc`` in a second pass.

Run (needs NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD)::

    python benchmarks/ingest_export.py --clients 1000 --rounds 50

Scopes are named ``bench-...`` and deleted at the end, unless
``--keep-scope`` is given. ``--export-only SCOPE`` skips ingest and measures
only the export of a scope stored before (for example by ``--keep-scope``),
which it leaves in place.
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import time
import tracemalloc
import uuid
from collections.abc import Callable
from typing import Any

from prov.model import ProvDocument
from rich.progress import track

from fedprov.export.provjson import stream_provjson
from fedprov.prov.vocabulary import FL, MT, FlClass, FlProperty, fl, run_namespace
from fedprov.settings import load_settings
from fedprov.store.neo4j.connection import open_driver
from fedprov.store.neo4j.graph import document_to_rows
from fedprov.store.neo4j.store import Neo4jProvStore

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def round_document(run_key: str, rnd: int, clients: int) -> ProvDocument:
    """Return the records of one round with ``clients`` clients."""
    doc = ProvDocument()
    run = doc.add_namespace(run_namespace(run_key))
    doc.add_namespace(FL)
    doc.add_namespace(MT)
    start = T0 + datetime.timedelta(minutes=rnd)
    end = start + datetime.timedelta(seconds=50)
    round_id = run[f"round_s1_r{rnd}"]
    aggregate = run[f"aggregate_s1_r{rnd}"]
    model_prev = run[f"model_s1_r{rnd - 1}"]
    model = run[f"model_s1_r{rnd}"]
    config = run[f"trainconfig_s1_r{rnd}"]

    doc.activity(
        round_id,
        start,
        end,
        {"prov:type": fl(FlClass.ROUND), fl(FlProperty.ROUND): rnd},
    )
    doc.entity(
        config, {"prov:type": fl(FlClass.TRAINING_CONFIG), fl(FlProperty.ROUND): rnd}
    )
    doc.activity(
        aggregate,
        end,
        end,
        {"prov:type": fl(FlClass.AGGREGATION), fl(FlProperty.ROUND): rnd},
    )
    doc.entity(
        model,
        {
            "prov:type": fl(FlClass.GLOBAL_MODEL),
            fl(FlProperty.ROUND): rnd,
            fl(FlProperty.SHA256): "ab" * 32,
        },
    )
    doc.wasGeneratedBy(model, aggregate, end)
    doc.wasDerivedFrom(
        model, model_prev, other_attributes={"prov:type": "prov:Revision"}
    )
    total = 500 * clients
    for n in range(clients):
        node = run[f"node_{n}"]
        train = run[f"train_s1_r{rnd}_n{n}"]
        update = run[f"update_s1_r{rnd}_n{n}"]
        metrics = run[f"trainmetrics_s1_r{rnd}_n{n}"]
        if rnd == 1:
            doc.agent(
                node,
                {"prov:type": fl(FlClass.CLIENT_NODE), fl(FlProperty.NODE_ID): str(n)},
            )
            doc.entity(
                run[f"partition_{n}"], {"prov:type": fl(FlClass.DATASET_PARTITION)}
            )
        doc.activity(
            train,
            start,
            end,
            {
                "prov:type": fl(FlClass.LOCAL_TRAINING),
                fl(FlProperty.ROUND): rnd,
                fl(FlProperty.NODE_ID): str(n),
                fl(FlProperty.PARTITION_ID): n,
            },
        )
        doc.entity(
            update,
            {
                "prov:type": fl(FlClass.CLIENT_UPDATE),
                fl(FlProperty.ROUND): rnd,
                fl(FlProperty.SHA256): f"{n:064x}",
                fl(FlProperty.NUM_EXAMPLES): 500,
            },
        )
        doc.entity(
            metrics,
            {
                "prov:type": fl(FlClass.METRICS),
                fl(FlProperty.ROUND): rnd,
                MT["loss"]: 0.5,
                MT["accuracy"]: 0.8,
            },
        )
        doc.used(train, model_prev)
        doc.used(train, config)
        doc.used(train, run[f"partition_{n}"])
        doc.wasAssociatedWith(train, node)
        doc.wasInformedBy(train, round_id)
        doc.wasGeneratedBy(update, train, end)
        doc.wasGeneratedBy(metrics, train, end)
        doc.wasAttributedTo(update, node)
        doc.used(aggregate, update)
        doc.wasDerivedFrom(
            model,
            update,
            other_attributes={
                fl(FlProperty.NUM_EXAMPLES): 500,
                fl(FlProperty.AGGREGATION_WEIGHT): 500 / total,
            },
        )
    return doc


_NAIVE_NODE = "MERGE (n:Element {key: $key}) SET n += $props"
_NAIVE_EDGE = (
    "MATCH (a:Element {key: $source}) MATCH (b:Element {key: $target}) "
    "CREATE (a)-[:wasGeneratedBy {key: $key}]->(b)"
)


def naive_write(store: Neo4jProvStore, scope: str, doc: ProvDocument) -> int:
    """Write one auto-commit statement per record; return the records sent."""
    rows = document_to_rows(scope, doc)
    count = 0
    with store.driver.session(database=store.database) as session:
        for draft in rows.nodes.values():
            session.run(
                _NAIVE_NODE, key=draft.key, props=draft.row()["props"]
            ).consume()
            count += 1
        for ref in rows.references.values():
            session.run(_NAIVE_NODE, key=ref["key"], props=ref["props"]).consume()
        for rel in rows.relations.values():
            # One relationship type stands in for all: the statement count
            # and the lookups are what this baseline measures.
            session.run(
                _NAIVE_EDGE, key=rel["key"], source=rel["source"], target=rel["target"]
            ).consume()
            count += 1
    return count


_FLOOR_NODES = (
    "UNWIND $rows AS row MERGE (n:Element {key: row.key}) SET n.scope = row.scope"
)
_FLOOR_EDGES = (
    "UNWIND $rows AS row MATCH (a:Element {key: row.source}) "
    "MATCH (b:Element {key: row.target}) MERGE (a)-[r:used {key: row.key}]->(b)"
)


def engine_floor(store: Neo4jProvStore, scope: str, count: int) -> float:
    """Return records/s of a bare UNWIND MERGE of minimal nodes, then edges.

    Each runs in one transaction and sets nothing beyond the key and scope,
    so the rate is an upper bound for any writer that merges on a unique key
    with this Neo4j on this machine.
    """
    nodes = [{"key": f"{scope}-{i}", "scope": scope} for i in range(count)]
    edges = [
        {"key": i, "source": f"{scope}-{i}", "target": f"{scope}-{(i * 7 + 1) % count}"}
        for i in range(count)
    ]
    started = time.perf_counter()
    with store.driver.session(database=store.database) as session:
        session.execute_write(lambda tx: tx.run(_FLOOR_NODES, rows=nodes).consume())
        session.execute_write(lambda tx: tx.run(_FLOOR_EDGES, rows=edges).consume())
    return 2 * count / (time.perf_counter() - started)


def _measure(fn: Callable[[], Any], memory: bool) -> tuple[float, int]:
    if memory:
        tracemalloc.start()
    started = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - started
    peak = 0
    if memory:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return elapsed, peak


def measure_export(store: Neo4jProvStore, scope: str) -> None:
    """Time the two PROV-JSON exports of ``scope`` and print their ratios."""

    def stream() -> None:
        with open(os.devnull, "w", encoding="utf-8") as out:
            stream_provjson(store, scope, out)

    def in_memory() -> None:
        document = store.read(scope)
        buffer = io.StringIO()
        document.serialize(buffer, format="json")

    stream_time, _ = _measure(stream, memory=False)
    base_time, _ = _measure(in_memory, memory=False)
    _, stream_peak = _measure(stream, memory=True)
    _, base_peak = _measure(in_memory, memory=True)
    print(
        f"PROV-JSON export, streaming: {stream_time:.1f} s, peak "
        f"{stream_peak / 2**20:,.1f} MiB"
    )
    print(
        f"PROV-JSON export, ProvDocument + prov: {base_time:.1f} s, peak "
        f"{base_peak / 2**20:,.1f} MiB"
    )
    print(
        f"export speed-up: {base_time / stream_time:.1f}x (target >= 5x); memory "
        "ratio: "
        f"{stream_peak / base_peak:.3f} (target <= 0.2)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument(
        "--naive-rounds", type=int, default=1, help="rounds written naively"
    )
    parser.add_argument(
        "--naive-clients", type=int, default=100, help="clients per naive round"
    )
    parser.add_argument(
        "--floor-records",
        type=int,
        default=10_000,
        help="nodes (and as many edges) of the engine-floor measurement; 0 skips it",
    )
    parser.add_argument(
        "--keep-scope",
        action="store_true",
        help="keep the ingested scope in Neo4j and print its name",
    )
    parser.add_argument(
        "--export-only",
        metavar="SCOPE",
        help="skip ingest and measure only the export of this stored scope",
    )
    args = parser.parse_args()

    driver, database = open_driver(load_settings())
    store = Neo4jProvStore(driver, database)
    if args.export_only:
        try:
            if not store.has_scope(args.export_only):
                parser.error(
                    f"scope {args.export_only!r} not found in Neo4j; store one "
                    "with --keep-scope first"
                )
            measure_export(store, args.export_only)
        finally:
            driver.close()
        return

    store.ensure_schema()
    tag = uuid.uuid4().hex[:8]
    scope = f"bench-{tag}"
    naive_scope = f"bench-naive-{tag}"
    floor_scope = f"bench-floor-{tag}"
    try:
        if args.floor_records:
            floor = engine_floor(store, floor_scope, args.floor_records)
            print(
                f"engine floor (bare UNWIND MERGE of {args.floor_records} minimal "
                f"nodes, then as many edges): {floor:,.0f} records/s"
            )
        print(f"building {args.rounds} round documents for {args.clients} clients ...")
        docs = [
            round_document(scope, r, args.clients)
            for r in track(range(1, args.rounds + 1), description="building")
        ]
        records = sum(len(d.get_records()) for d in docs)

        started = time.perf_counter()
        for doc in track(docs, description="ingesting"):
            store.write(scope, doc)
        ingest = time.perf_counter() - started
        fast_rate = records / ingest
        print(
            f"ingest (UNWIND batches): {records} records in {ingest:.1f} s = "
            f"{fast_rate:,.0f} records/s"
        )
        del docs

        naive_docs = [
            round_document(naive_scope, r, args.naive_clients)
            for r in range(1, args.naive_rounds + 1)
        ]
        started = time.perf_counter()
        naive_records = sum(naive_write(store, naive_scope, d) for d in naive_docs)
        naive = time.perf_counter() - started
        naive_rate = naive_records / naive
        print(
            f"naive (one statement per record): {naive_records} records in "
            f"{naive:.1f} s = "
            f"{naive_rate:,.0f} records/s; extrapolated to {records} records: "
            f"{records / naive_rate:,.0f} s (estimate)"
        )
        print(
            f"ingest speed-up: {fast_rate / naive_rate:.1f}x (target >= 20x; >= "
            "50,000 records/s)"
        )

        measure_export(store, scope)
    finally:
        if args.keep_scope:
            print(f"kept scope {scope}")
        else:
            store.delete(scope)
        store.delete(naive_scope)
        store.delete(floor_scope)
        driver.close()


if __name__ == "__main__":
    main()
