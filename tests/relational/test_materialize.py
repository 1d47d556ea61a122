"""The view built from a captured federation, written through the Neo4j store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from fedprov.errors import StoreError
from fedprov.relational.consistency import check_consistency
from fedprov.relational.materialize import ViewingStore, ViewMaterializer
from fedprov.relational.schema import TABLES
from fedprov.relational.view import RelationalView
from fedprov.store.durable import DurableStore
from fedprov.store.neo4j.store import Neo4jProvStore
from relational.fabricated_run import (
    CHECKPOINT_STORE_IDS,
    FLOWER_PROV_QUERIES,
    FLOWER_RUN_IDS,
    NODES,
    FabricatedRun,
    expected_query_results,
    partial_round_document,
    sorted_rows,
)


def _counts(view: RelationalView, scope: str) -> dict[str, int]:
    return {name: len(rows) for name, rows in view.rows(scope).items()}


@pytest.mark.parametrize("name", sorted(FLOWER_PROV_QUERIES), ids=str)
def test_view_flower_prov_query_returns_captured_values(
    captured_once: ViewMaterializer, name: str
) -> None:
    result = captured_once.view.query(FLOWER_PROV_QUERIES[name])

    assert sorted_rows(result.rows) == sorted_rows(expected_query_results()[name])


def test_view_lower_case_names_work(captured_once: ViewMaterializer) -> None:
    upper = captured_once.view.query(FLOWER_PROV_QUERIES["clients_round_5"])
    lower = captured_once.view.query(
        "select client_id from oclienttraining where server_round = 5"
    )

    assert sorted_rows(lower.rows) == sorted_rows(upper.rows)


def test_view_keeps_server_and_run_ids(captured_once: ViewMaterializer) -> None:
    result = captured_once.view.query(
        "SELECT DISTINCT experiment_id, server_id, run_id FROM oClientTraining "
        "WHERE server_round = 5 ORDER BY server_id"
    )
    scope = result.rows[0][0]

    assert result.rows == [
        (scope, 1, str(FLOWER_RUN_IDS[1])),
        (scope, 2, str(FLOWER_RUN_IDS[2])),
    ]


def test_view_column_types_are_sql_types(captured_once: ViewMaterializer) -> None:
    result = captured_once.view.query(
        "SELECT total_num_clients, client_loss, accuracy, checkpoint_time, "
        "weights_mongo_id FROM oServerTrainingAggregation WHERE server_round = 4"
    )
    clients, client_loss, accuracy, stored_at, store_id = result.rows[0]

    assert clients == 3
    assert client_loss is False
    assert isinstance(accuracy, float)
    assert isinstance(stored_at, dt.datetime)
    assert store_id == CHECKPOINT_STORE_IDS[4]


def test_view_failed_round_reports_client_loss(captured_once: ViewMaterializer) -> None:
    result = captured_once.view.query(
        "SELECT total_num_clients, client_loss, total_num_examples "
        "FROM oServerTrainingAggregation WHERE server_id = 1 AND server_round = 3"
    )

    assert result.rows == [(2, True, 300)]


def test_view_recovered_client_names_checkpoint(
    captured_once: ViewMaterializer,
) -> None:
    clients = captured_once.view.query(
        "SELECT client_id, loaded_weights_id FROM oClientTraining "
        "WHERE loaded_weights_id IS NOT NULL"
    )
    rounds = captured_once.view.query(
        "SELECT server_id, server_round FROM oServerTrainingAggregation "
        "WHERE loaded_weights"
    )

    assert clients.rows == [(str(NODES[2]), CHECKPOINT_STORE_IDS[4])]
    assert rounds.rows == [(2, 6)]


def test_view_config_tables_have_run_config(captured_once: ViewMaterializer) -> None:
    optimizer = captured_once.view.query(
        'SELECT server_id, learning_rate, momentum, "name" FROM iOptimizerConfig'
    )
    server = captured_once.view.query(
        "SELECT server_id, num_rounds, round_timeout_in_seconds, fraction_fit, "
        "min_fit_clients, server_aggregation_strategy FROM iServerConfig"
    )

    assert sorted_rows(optimizer.rows) == [(1, 0.01, 0.9, "sgd"), (2, 0.01, 0.9, "sgd")]
    assert sorted_rows(server.rows) == [
        (1, 6, 120.0, 1.0, 2, "FedAvg"),
        (2, 2, 120.0, 1.0, 2, "FedAvg"),
    ]


def test_view_training_config_has_batch_size(captured_once: ViewMaterializer) -> None:
    result = captured_once.view.query(
        "SELECT server_round, batch_size, epochs FROM iTrainingConfig "
        "WHERE server_id = 1 ORDER BY server_round"
    )

    assert result.rows == [(1, 32, 1), (2, 32, 1), (3, 32, 1), (4, 64, 1), (5, 64, 1)]


def test_apply_twice_adds_no_rows(
    captured: ViewMaterializer, fabricated: FabricatedRun
) -> None:
    before = captured.view.rows(fabricated.scope)
    for document in fabricated.documents:
        captured.apply(fabricated.scope, document)

    assert captured.view.rows(fabricated.scope) == before


def test_apply_order_does_not_change_rows(
    fabricated: FabricatedRun, tmp_path: Path
) -> None:
    from fedprov.relational.dialects.duckdb import DuckDbBackend

    forward = ViewMaterializer(
        RelationalView(DuckDbBackend(tmp_path / "f.duckdb", keep_open=True))
    )
    backward = ViewMaterializer(
        RelationalView(DuckDbBackend(tmp_path / "b.duckdb", keep_open=True))
    )
    for document in fabricated.documents:
        forward.apply(fabricated.scope, document)
    for document in reversed(fabricated.documents):
        backward.apply(fabricated.scope, document)

    assert backward.view.rows(fabricated.scope) == forward.view.rows(fabricated.scope)


def test_apply_fills_run_id_of_earlier_rows(
    duck_view: RelationalView, fabricated: FabricatedRun
) -> None:
    materializer = ViewMaterializer(duck_view)
    materializer.apply(fabricated.scope, partial_round_document(fabricated.scope, 1, 1))
    orphan = duck_view.query("SELECT run_id FROM oClientTraining")
    materializer.apply(fabricated.scope, fabricated.documents[0])  # the fl:Run record
    adopted = duck_view.query("SELECT run_id FROM oClientTraining")

    assert orphan.rows == [(None,)]
    assert adopted.rows == [(str(FLOWER_RUN_IDS[1]),)]


def test_journal_replay_adds_no_rows(
    fabricated: FabricatedRun,
    duck_view: RelationalView,
    graph_store: Neo4jProvStore,
    neo4j_driver: object,
    neo4j_database: str,
    tmp_path: Path,
) -> None:
    materializer = ViewMaterializer(duck_view, neo4j_driver, neo4j_database)  # type: ignore[arg-type]
    viewing = ViewingStore(graph_store, materializer, strict=True)
    durable = DurableStore(tmp_path / "journal", viewing, strict=True)
    half = len(fabricated.documents) // 2

    # Neo4j away for the second half: those documents are journaled only.
    for document in fabricated.documents[:half]:
        durable.write(fabricated.scope, document)
    durable.store = None
    for document in fabricated.documents[half:]:
        durable.write(fabricated.scope, document)
    durable.store = viewing
    replayed = durable.replay(fabricated.scope)
    after_replay = duck_view.rows(fabricated.scope)

    # Replaying the whole journal once more changes nothing.
    durable.journal.set_committed(fabricated.scope, 0)
    durable.replay(fabricated.scope)

    assert replayed == len(fabricated.documents) - half
    assert duck_view.rows(fabricated.scope) == after_replay
    assert check_consistency(materializer, fabricated.scope).ok


def test_rebuild_equals_incremental_rows(
    captured: ViewMaterializer, fabricated: FabricatedRun
) -> None:
    incremental = captured.view.rows(fabricated.scope)
    counts = captured.rebuild(fabricated.scope)

    assert counts == {name: len(rows) for name, rows in incremental.items()}
    assert check_consistency(captured, fabricated.scope).ok


def test_rebuild_keeps_other_experiments(
    captured: ViewMaterializer, fabricated: FabricatedRun
) -> None:
    other = "other-experiment"
    captured.apply(other, partial_round_document(other, 1, 1))
    captured.rebuild(fabricated.scope)

    assert _counts(captured.view, other)["oClientTraining"] == 1


def _broken_view(tmp_path: Path) -> RelationalView:
    from fedprov.relational.dialects.duckdb import DuckDbBackend

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the view's folder should be\n")
    return RelationalView(DuckDbBackend(blocker / "view.duckdb"))


def test_viewing_store_counts_failed_view_update(
    fabricated: FabricatedRun, graph_store: Neo4jProvStore, tmp_path: Path
) -> None:
    store = ViewingStore(graph_store, ViewMaterializer(_broken_view(tmp_path)))
    store.write(fabricated.scope, fabricated.documents[0])

    assert store.failures == 1
    assert graph_store.read(fabricated.scope).get_record(
        fabricated.documents[0].get_records()[0].identifier
    )


def test_viewing_store_strict_raises(
    fabricated: FabricatedRun, graph_store: Neo4jProvStore, tmp_path: Path
) -> None:
    store = ViewingStore(
        graph_store, ViewMaterializer(_broken_view(tmp_path)), strict=True
    )

    with pytest.raises(StoreError, match="cannot open the DuckDB view"):
        store.write(fabricated.scope, fabricated.documents[0])


def test_rebuild_without_driver_fails(duck_view: RelationalView) -> None:
    with pytest.raises(StoreError, match="no Neo4j driver"):
        ViewMaterializer(duck_view).rebuild("some-run")


def test_schema_tables_all_created(captured_once: ViewMaterializer) -> None:
    result = captured_once.view.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    )

    assert {r[0] for r in result.rows} == {t.name for t in TABLES}


def test_viewing_store_deferred_updates_follow(
    fabricated: FabricatedRun,
    duck_view: RelationalView,
    graph_store: Neo4jProvStore,
    neo4j_driver: object,
    neo4j_database: str,
) -> None:
    materializer = ViewMaterializer(duck_view, neo4j_driver, neo4j_database)  # type: ignore[arg-type]
    store = ViewingStore(graph_store, materializer)
    store.defer_updates = True
    for document in fabricated.documents:
        store.write(fabricated.scope, document)
    rows_before_apply = _counts(duck_view, fabricated.scope)
    store.apply_pending()

    assert sum(rows_before_apply.values()) == 0
    assert store.updates == len(fabricated.documents)
    assert check_consistency(materializer, fabricated.scope).ok
