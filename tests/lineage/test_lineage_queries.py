"""Each named lineage query on a fabricated run, with exact expected values."""

from __future__ import annotations

import datetime as dt

import neo4j
import pytest
from prov.constants import PROV_TYPE
from prov.model import ProvDocument

from fedprov.lineage import Lineage
from fedprov.prov.vocabulary import FL, FlClass, FlProperty, fl, run_namespace
from fedprov.store.neo4j.store import Neo4jProvStore
from lineage.fabricated_run import RULE_SHA256, FabricatedRun

UTC = dt.UTC


def test_runs_lists_fabricated_run(lineage: Lineage, fabricated: FabricatedRun) -> None:
    rows = [r for r in lineage.runs() if r["scope"] == fabricated.run_key]
    assert len(rows) == 1
    row = rows[0]
    assert row["servers"] == 1
    assert row["outcome"] == "completed"
    assert row["num_rounds"] == 3
    assert row["rounds"] == 3
    assert row["final_round"] == 3
    assert row["final_accuracy"] == pytest.approx(0.5)
    assert row["started"] == dt.datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert row["ended"] == dt.datetime(2026, 1, 1, 10, 3, 30, tzinfo=UTC)


def test_global_models_chain(lineage: Lineage, fabricated: FabricatedRun) -> None:
    rows = lineage.global_models(fabricated.run_key)
    assert [r["model"] for r in rows] == [f"run:model_s1_r{k}" for k in range(4)]
    assert [r["sha256"] for r in rows] == [fabricated.model_sha[k] for k in range(4)]
    assert rows[0]["previous"] is None
    assert rows[0]["previous_sha256"] is None
    for k in (1, 2, 3):
        assert rows[k]["previous"] == f"run:model_s1_r{k - 1}"
        assert rows[k]["previous_sha256"] == fabricated.model_sha[k - 1]
        assert rows[k]["previous_model_sha256"] == fabricated.model_sha[k - 1]


def test_model_ancestors_round_two(lineage: Lineage, fabricated: FabricatedRun) -> None:
    rows = lineage.model_ancestors(fabricated.run_key, 2)
    by_name = {r["ancestor"]: r for r in rows}
    assert len(rows) == 28
    # Nearest records: the aggregation, the previous model and both updates.
    assert [r["ancestor"] for r in rows if r["distance"] == 1] == [
        "run:aggregate_s1_r2",
        "run:model_s1_r1",
        "run:update_s1_r2_n1111",
        "run:update_s1_r2_n2222",
    ]
    assert by_name["run:trainconfig_s1_r2"] == {
        "ancestor": "run:trainconfig_s1_r2",
        "kind": "TrainingConfig",
        "round": 2,
        "distance": 3,
        "via": "used",
    }
    partitions = {a: by_name[a]["distance"] for a in by_name if "partition_" in a}
    assert partitions == {
        "run:partition_0": 3,
        "run:partition_1": 3,
        "run:partition_2": 4,
    }
    assert by_name["run:runconfig_s1"]["kind"] == "RunConfig"
    assert by_name["run:model_s1_r0"]["distance"] == 2
    # Nothing of later rounds, and no failure, is an ancestor.
    assert not [a for a in by_name if "_r3" in a]
    assert "run:failure_s1_r2_n3333_train" not in by_name


def test_model_ancestors_include_rule_firing(
    lineage: Lineage, fabricated: FabricatedRun
) -> None:
    by_name = {r["ancestor"]: r for r in lineage.model_ancestors(fabricated.run_key, 3)}
    assert by_name["run:revise_s1_r3"]["kind"] == "ConfigRevision"
    assert by_name["run:revise_s1_r3"]["distance"] == 4
    assert by_name["run:revise_s1_r3"]["via"] == "wasGeneratedBy"
    assert by_name["run:adjust_s1_r3_plateau_batch-size"]["kind"] == "ConfigAdjustment"
    assert by_name["run:adjust_s1_r3_plateau_batch-size"]["distance"] == 5
    assert by_name["run:adjust_s1_r3_plateau_batch-size"]["via"] == "wasInformedBy"
    assert by_name["run:rule_engine"]["distance"] == 5
    assert by_name["run:trainmetrics_s1_r1"]["via"] == "used"


def test_model_ancestors_unknown_server_empty(
    lineage: Lineage, fabricated: FabricatedRun
) -> None:
    assert lineage.model_ancestors(fabricated.run_key, 2, server=2) == []


def test_contributors_round_two_weights(
    lineage: Lineage, fabricated: FabricatedRun
) -> None:
    rows = lineage.contributors(fabricated.run_key, 2)
    assert rows == [
        {
            "model": "run:model_s1_r2",
            "node": "1111",
            "partition": 0,
            "update": "run:update_s1_r2_n1111",
            "num_examples": 100,
            "weight": pytest.approx(1 / 3),
            "update_sha256": fabricated.update_sha[(2, 1111)],
        },
        {
            "model": "run:model_s1_r2",
            "node": "2222",
            "partition": 1,
            "update": "run:update_s1_r2_n2222",
            "num_examples": 200,
            "weight": pytest.approx(2 / 3),
            "update_sha256": fabricated.update_sha[(2, 2222)],
        },
    ]


def test_contributors_round_one_all_clients(
    lineage: Lineage, fabricated: FabricatedRun
) -> None:
    rows = lineage.contributors(fabricated.run_key, 1, server=1)
    assert [r["node"] for r in rows] == ["1111", "2222", "3333"]
    assert [r["weight"] for r in rows] == pytest.approx([1 / 6, 2 / 6, 3 / 6])
    assert sum(r["weight"] for r in rows) == pytest.approx(1.0)


def test_client_configs_round_three_adjusted(
    lineage: Lineage, fabricated: FabricatedRun
) -> None:
    rows = lineage.client_configs(fabricated.run_key, 3)
    assert [r["node"] for r in rows] == ["1111", "2222", "3333"]
    for row in rows:
        assert row["config"] == "run:trainconfig_s1_r3"
        assert row["config_json"] == '{"batch-size":64,"epochs":1,"lr":0.01}'
        assert sorted((h["name"], h["value"]) for h in row["hyperparameters"]) == [
            ("batch-size", 64),
            ("epochs", 1),
            ("lr", 0.01),
        ]
        assert row["adjusted"] is True


def test_client_configs_round_two_not_adjusted(
    lineage: Lineage, fabricated: FabricatedRun
) -> None:
    rows = lineage.client_configs(fabricated.run_key, 2)
    assert [(r["node"], r["partition"]) for r in rows] == [("1111", 0), ("2222", 1)]
    assert [r["adjusted"] for r in rows] == [False, False]
    assert rows[0]["config_json"] == '{"batch-size":32,"epochs":1,"lr":0.01}'


def test_rule_firings_what_rule_read(
    lineage: Lineage, fabricated: FabricatedRun
) -> None:
    rows = lineage.rule_firings(fabricated.run_key)
    assert rows == [
        {
            "adjustment": "run:adjust_s1_r3_plateau_batch-size",
            "round": 3,
            "rule_name": "plateau",
            "rule": f"run:rule_{RULE_SHA256[:16]}",
            "rule_sha256": RULE_SHA256,
            "hyperparameter": "batch-size",
            "value_before": 32,
            "value_after": 64,
            "reason": "accuracy rose by less than 0.05",
            "read": [
                "run:trainconfig_s1_r2",
                "run:trainmetrics_s1_r1",
                "run:trainmetrics_s1_r2",
            ],
            "generated": "run:trainconfig_s1_r3",
            "started": dt.datetime(2026, 1, 1, 10, 2, 55, tzinfo=UTC),
        }
    ]


def test_checkpoints_hold_models(lineage: Lineage, fabricated: FabricatedRun) -> None:
    rows = lineage.checkpoints(fabricated.run_key)
    assert [r["checkpoint"] for r in rows] == [
        f"run:checkpoint_s1_r{k}" for k in (1, 2, 3)
    ]
    assert [r["model"] for r in rows] == [f"run:model_s1_r{k}" for k in (1, 2, 3)]
    assert [r["consistent"] for r in rows] == [True, False, True]
    assert [r["store_id"] for r in rows] == [fabricated.store_ids[k] for k in (1, 2, 3)]
    assert [r["sha256"] for r in rows] == [fabricated.model_sha[k] for k in (1, 2, 3)]
    assert all(r["digest_matches"] for r in rows)
    assert {r["store_kind"] for r in rows} == {"file"}
    assert {r["server"] for r in rows} == {1}


def test_failures_timeout(lineage: Lineage, fabricated: FabricatedRun) -> None:
    assert lineage.failures(fabricated.run_key) == [
        {
            "failure": "run:failure_s1_r2_n3333_train",
            "round": 2,
            "node": "3333",
            "kind": "timeout",
            "phase": "train",
            "error_code": None,
            "reason": "no reply within the round timeout of 30 s",
            "agent": "run:node_3333",
        }
    ]


def test_run_timeline_round_two(lineage: Lineage, fabricated: FabricatedRun) -> None:
    rows = lineage.run_timeline(fabricated.run_key, 2)
    assert [(r["activity"], r["kind"]) for r in rows] == [
        ("run:round_s1_r2", "Round"),
        ("run:train_s1_r2_n1111", "LocalTraining"),
        ("run:train_s1_r2_n2222", "LocalTraining"),
        ("run:aggregate_s1_r2", "Aggregation"),
        ("run:servereval_s1_r2", "ServerEvaluation"),
        ("run:checkpointing_s1_r2", "Checkpointing"),
    ]
    assert rows[0]["started"] == dt.datetime(2026, 1, 1, 10, 2, tzinfo=UTC)
    assert [r["seconds"] for r in rows] == [50.0, 19.0, 19.0, 1.0, 1.0, 1.0]
    assert rows[1]["node"] == "1111"


def test_run_timeline_whole_run(lineage: Lineage, fabricated: FabricatedRun) -> None:
    rows = lineage.run_timeline(fabricated.run_key)
    # 1 run, 3 rounds, 8 trainings, 3 aggregations, 3 server evaluations,
    # 3 checkpointings, 1 rule firing and the config revision it informed.
    assert len(rows) == 23
    assert rows[0]["activity"] == "run:run_s1"
    assert rows[-1]["activity"] == "run:checkpointing_s1_r3"
    starts = [r["started"] for r in rows]
    assert starts == sorted(starts)


def test_round_metrics_per_client(lineage: Lineage, fabricated: FabricatedRun) -> None:
    rows = lineage.round_metrics(fabricated.run_key)
    accuracy = {
        (r["round"], r["source"], r["node"]): r["value"]
        for r in rows
        if r["name"] == "accuracy"
    }
    assert accuracy[(1, "client", "3333")] == pytest.approx(0.12)
    assert accuracy[(2, "aggregated", None)] == pytest.approx(0.21)
    assert accuracy[(3, "server", None)] == pytest.approx(0.5)
    assert (2, "client", "3333") not in accuracy
    assert len(rows) == 8 * 3 + 3 * 2 + 3 * 2


def test_path_between_update_and_checkpoint(
    lineage: Lineage, fabricated: FabricatedRun
) -> None:
    rows = lineage.path_between(
        fabricated.run_key, "run:update_s1_r2_n1111", "run:checkpoint_s1_r2"
    )
    assert rows == [
        {
            "step": 1,
            "source": "run:update_s1_r2_n1111",
            "relation": "wasDerivedFrom",
            "target": "run:model_s1_r2",
            "forward": False,
        },
        {
            "step": 2,
            "source": "run:model_s1_r2",
            "relation": "wasDerivedFrom",
            "target": "run:checkpoint_s1_r2",
            "forward": False,
        },
    ]


def test_path_between_accepts_uri(lineage: Lineage, fabricated: FabricatedRun) -> None:
    uri = f"https://w3id.org/fedprov/run/{fabricated.run_key}/model_s1_r1"
    rows = lineage.path_between(fabricated.run_key, uri, "run:model_s1_r0")
    assert [(r["source"], r["relation"], r["target"], r["forward"]) for r in rows] == [
        ("run:model_s1_r1", "wasDerivedFrom", "run:model_s1_r0", True)
    ]


def test_path_between_unknown_record_empty(
    lineage: Lineage, fabricated: FabricatedRun
) -> None:
    assert lineage.path_between(fabricated.run_key, "run:nope", "run:model_s1_r0") == []


def test_run_diff_first_difference(
    lineage: Lineage, fabricated: FabricatedRun, fabricated_other: FabricatedRun
) -> None:
    rows = lineage.run_diff(fabricated.run_key, fabricated_other.run_key)
    assert [r["round"] for r in rows] == [2, 3]
    first = rows[0]
    assert first["config_differs"] is True
    assert first["participants_differ"] is False
    assert first["model_differs"] is True
    assert first["config_a"] == ["batch-size=32", "epochs=1", "lr=0.01"]
    assert first["config_b"] == ["batch-size=32", "epochs=1", "lr=0.02"]
    assert first["participants_a"] == ["0", "1"]
    assert first["participants_b"] == ["0", "1"]
    assert first["model_sha256_a"] == fabricated.model_sha[2]
    assert first["model_sha256_b"] == fabricated_other.model_sha[2]


def test_run_diff_ignore_keys(
    lineage: Lineage, fabricated: FabricatedRun, fabricated_other: FabricatedRun
) -> None:
    rows = lineage.run(
        "run_diff",
        {
            "scope": fabricated.run_key,
            "other": fabricated_other.run_key,
            "ignore_keys": "lr",
        },
    )
    # Without lr the configs agree; the model digests still differ.
    assert [(r["round"], r["config_differs"], r["model_differs"]) for r in rows] == [
        (2, False, True),
        (3, False, True),
    ]


def test_run_diff_same_run_empty(lineage: Lineage, fabricated: FabricatedRun) -> None:
    assert lineage.run_diff(fabricated.run_key, fabricated.run_key) == []


def test_model_ancestors_skip_evaluation_config(
    lineage: Lineage, neo4j_driver: neo4j.Driver, neo4j_database: str, scope: str
) -> None:
    # The shape capture writes: the aggregation is informed by its round,
    # and the round also used the evaluation config sent after the model.
    namespace = run_namespace(scope)
    document = ProvDocument()
    document.add_namespace(namespace)
    document.add_namespace(FL)
    model = document.entity(
        namespace["model_s1_r1"],
        [(PROV_TYPE, fl(FlClass.GLOBAL_MODEL)), (fl(FlProperty.ROUND), 1)],
    )
    aggregate = document.activity(
        namespace["aggregate_s1_r1"],
        other_attributes=[(PROV_TYPE, fl(FlClass.AGGREGATION))],
    )
    round_ = document.activity(
        namespace["round_s1_r1"], other_attributes=[(PROV_TYPE, fl(FlClass.ROUND))]
    )
    for name, kind in (
        ("trainconfig_s1_r1", FlClass.TRAINING_CONFIG),
        ("evalconfig_s1_r1", FlClass.EVALUATION_CONFIG),
    ):
        config = document.entity(namespace[name], [(PROV_TYPE, fl(kind))])
        document.used(round_, config)
    document.wasGeneratedBy(model, aggregate)
    document.wasInformedBy(aggregate, round_)
    store = Neo4jProvStore(neo4j_driver, neo4j_database)
    store.write(scope, document)
    try:
        ancestors = {row["ancestor"] for row in lineage.model_ancestors(scope, 1)}
    finally:
        store.delete(scope)

    assert "run:trainconfig_s1_r1" in ancestors
    assert "run:evalconfig_s1_r1" not in ancestors
