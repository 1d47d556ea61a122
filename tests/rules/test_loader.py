"""Rule loading: header parsing and EXPLAIN checks, with file and line in errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import neo4j
import pytest

from fedprov.errors import RuleError
from fedprov.rules.header import Bound, parse_scalar
from fedprov.rules.loader import (
    check_rule,
    load_rules,
    parse_rule_file,
    shipped_rules_dir,
)

HEADER = (
    "// name: sample\n"
    "// description: A sample rule.\n"
    "// priority: 5\n"
    "// cooldown: 1\n"
    "// bounds:\n"
    "//   batch-size: [1, 64]\n"
    "//\n"
)
BODY = (
    "MATCH (m:Metrics {scope: $scope})\n"
    "WHERE m.`fl:round` < $server_round\n"
    "RETURN 'batch-size' AS hyperparameter, 2 AS new_value,\n"
    "       'why' AS reason, collect(m.id) AS used_ids\n"
)


def test_parse_rule_file_reads_header(write_rule: Any) -> None:
    path = write_rule(
        "// name: sample\n// description: A sample rule.\n// priority: -3\n"
        "// cooldown: 2\n// enabled: false\n// from_round: 4\n// bounds:\n"
        "//   $key: [0.5, null]\n//   fedprov.stop: any\n// parameters:\n"
        "//   key: lr\n//   gain: 0.05\n//   label: '12'\n//\n"
        "// Free text after the header: anything: goes.\n" + BODY
    )

    rule = parse_rule_file(path)

    header = rule.header
    assert (header.name, header.priority, header.cooldown) == ("sample", -3, 2)
    assert (header.enabled, header.from_round) == (False, 4)
    assert header.bounds == {
        "$key": Bound(0.5, None),
        "fedprov.stop": Bound(None, None, numeric=False),
    }
    assert header.parameters == {"key": "lr", "gain": 0.05, "label": "12"}
    assert header.length == 13
    assert len(rule.sha256) == 64


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("MATCH (n) RETURN n\n", 1, "missing header"),
        (
            HEADER.replace("// priority: 5\n", "// priority: high\n"),
            3,
            "priority must be an integer",
        ),
        (
            HEADER.replace("// cooldown: 1\n", "// cooldown: -1\n"),
            4,
            "cooldown must be an integer >= 0",
        ),
        (
            HEADER.replace("// cooldown: 1\n", "// colldown: 1\n"),
            4,
            "unknown header key 'colldown'",
        ),
        (HEADER.replace("// priority: 5\n", ""), 5, "'priority' is missing"),
        (HEADER.replace("[1, 64]", "[64, 1]"), 6, "minimum exceeds the maximum"),
        (HEADER.replace("[1, 64]", "64"), 6, "invalid bound '64'"),
        (
            HEADER.replace("// name: sample\n", "// name: Sample Rule\n"),
            1,
            "invalid rule name",
        ),
        (HEADER.replace("//   batch-size", "//   $missing"), 6, "names no parameter"),
        (
            HEADER.replace("// cooldown: 1\n", "// cooldown: 1\n// cooldown: 2\n"),
            5,
            "repeated",
        ),
        (
            HEADER.replace("// bounds:\n", "// enabled: maybe\n// bounds:\n"),
            5,
            "enabled must be",
        ),
        (HEADER.replace("//\n", "// parameters:\n//   scope: 3\n//\n"), 8, "reserved"),
        (
            HEADER.replace("// description: A sample rule.\n", "// just prose here\n"),
            2,
            "invalid header line",
        ),
        (HEADER + "EXPLAIN " + BODY, 8, "must not start with 'EXPLAIN'"),
    ],
    ids=[
        "no-header",
        "priority-text",
        "negative-cooldown",
        "unknown-key",
        "missing-priority",
        "inverted-bound",
        "bound-not-list",
        "bad-name",
        "bound-unknown-parameter",
        "repeated-key",
        "enabled-not-bool",
        "reserved-parameter",
        "prose-in-header",
        "explain-prefix",
    ],
)
def test_parse_rule_file_errors_name_file_and_line(
    write_rule: Any, text: str, line: int, message: str
) -> None:
    path: Path = write_rule(text if "RETURN" in text else text + BODY)

    with pytest.raises(RuleError, match=re.escape(f"{path}:{line}: ")) as caught:
        parse_rule_file(path)

    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        (
            BODY.replace("WHERE m.`fl:round`", "WHERE m.`fl:round` <<"),
            9,
            "invalid Cypher",
        ),
        (
            BODY.replace("MATCH (m", "MATCH (m").replace(
                "RETURN", "SET m.x = 1\nRETURN"
            ),
            10,
            "not read-only",
        ),
        (
            "CREATE (n:Entity {scope: $scope})\n"
            + BODY.replace("MATCH", "WITH n MATCH"),
            8,
            "not read-only",
        ),
        (BODY.replace("AS used_ids", "AS used"), 10, "returns columns"),
        (BODY.replace("$server_round", "$threshold"), 9, "parameter $threshold"),
    ],
    ids=["syntax", "set-property", "create", "wrong-columns", "undeclared-parameter"],
)
def test_check_rule_errors_name_file_and_line(
    neo4j_driver: neo4j.Driver,
    neo4j_database: str,
    write_rule: Any,
    body: str,
    line: int,
    message: str,
) -> None:
    path: Path = write_rule(HEADER + body)
    rule = parse_rule_file(path)

    with pytest.raises(RuleError, match=re.escape(f"{path}:{line}: ")) as caught:
        check_rule(rule, neo4j_driver, neo4j_database)

    assert message in str(caught.value)


def test_load_rules_user_folder_replaces_shipped(
    neo4j_driver: neo4j.Driver, neo4j_database: str, tmp_path: Path
) -> None:
    shipped = (shipped_rules_dir() / "target_accuracy_stop.cypher").read_text()
    (tmp_path / "stop.cypher").write_text(
        shipped.replace("priority: 1000", "priority: 7")
    )

    rules = load_rules(neo4j_driver, neo4j_database, [tmp_path])

    by_name = {rule.name: rule for rule in rules}
    assert set(by_name) == {
        "flower-prov-slow-progress",
        "lr-plateau-decay",
        "target-accuracy-stop",
    }
    assert by_name["target-accuracy-stop"].header.priority == 7
    assert by_name["target-accuracy-stop"].path == tmp_path / "stop.cypher"


def test_load_rules_missing_folder_fails(
    neo4j_driver: neo4j.Driver, neo4j_database: str, tmp_path: Path
) -> None:
    with pytest.raises(RuleError, match="does not exist"):
        load_rules(neo4j_driver, neo4j_database, [tmp_path / "absent"])


def test_load_rules_duplicate_user_names_fail(
    neo4j_driver: neo4j.Driver, neo4j_database: str, tmp_path: Path
) -> None:
    for name in ("a.cypher", "b.cypher"):
        (tmp_path / name).write_text(HEADER + BODY)

    with pytest.raises(RuleError, match=re.escape(f"{tmp_path / 'b.cypher'}:1: ")):
        load_rules(neo4j_driver, neo4j_database, [tmp_path])


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("FALSE", False),
        ("12", 12),
        ("-1.5e-3", -0.0015),
        ("'7'", "7"),
        ('"a b"', "a b"),
        ("batch-size", "batch-size"),
    ],
    ids=["true", "false", "int", "float", "single-quoted", "double-quoted", "bare"],
)
def test_parse_scalar_types(text: str, value: object) -> None:
    parsed = parse_scalar(text)

    assert parsed == value
    assert type(parsed) is type(value)


@pytest.mark.parametrize(
    ("bound", "value", "expected"),
    [
        (Bound(1, 4096), 8192, 4096),
        (Bound(1, 4096), 0, 1),
        (Bound(1, 4096), 64, 64),
        (Bound(1e-6, 1.0), 1e-9, 1e-6),
        (Bound(None, 10), -5, -5),
        (Bound(None, None, numeric=False), "x", "x"),
    ],
    ids=["above", "below", "inside", "float-below", "open-minimum", "any"],
)
def test_bound_clamp(bound: Bound, value: object, expected: object) -> None:
    assert bound.clamp(value) == expected  # type: ignore[arg-type]


def test_bound_clamp_rejects_text() -> None:
    with pytest.raises(RuleError, match="is not a number"):
        Bound(1, 2).clamp("many")
