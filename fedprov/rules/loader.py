"""Find, parse and check adjustment rules.

A rule is one ``.cypher`` file: a read-only Cypher query that fedprov runs
over a run's lineage after each round, and whose rows change the next round's
training config. fedprov ships its rules in ``cypher/rules/``; each folder in
``FEDPROV_RULES_PATH`` adds more (only ``*.cypher`` files directly inside it).
A rule in a user folder replaces a shipped rule of the same name.

File format
-----------
The file starts with a header: ``// key: value`` lines, ending at the first
line that is ``//`` alone or not a comment. Comments after that line are free
text. Example::

    // name: target-accuracy-stop
    // description: Stop the run once evaluation accuracy reaches the target.
    // priority: 1000
    // cooldown: 0
    // enabled: false
    // from_round: 2
    // bounds:
    //   fedprov.stop: any
    // parameters:
    //   target_accuracy: 0.7
    //
    MATCH ... RETURN 'fedprov.stop' AS hyperparameter, true AS new_value,
                     'reason' AS reason, [m.id] AS used_ids

Header keys:

``name`` (required)
    Lowercase letters, digits and ``-``; it names the rule in provenance
    records (``adjust_s<s>_r<r>_<name>_<hyperparameter>``) and in run_config.
``description`` (required)
    One line for people.
``priority`` (required)
    An integer. When several rules set the same hyperparameter in a round,
    the highest priority wins; equal priorities fall back to name order.
``cooldown`` (required)
    Rounds, at least 0. After the rule changes the config of round ``r``, it
    is not run again before round ``r + cooldown + 1``.
``bounds`` (required)
    Indented ``//   hyperparameter: [minimum, maximum]`` lines (``null`` for
    an open side) or ``//   hyperparameter: any`` for values that are not
    numbers. A key ``$param`` names the hyperparameter given by that
    parameter's value. A rule may only set hyperparameters listed here, and
    values are clamped to the bound.
``enabled`` (default ``true``)
    A disabled rule runs only when run_config enables it.
``from_round`` (default 1)
    The first round whose config the rule may change.
``parameters`` (default none)
    Indented ``//   name: default`` lines; each becomes ``$name`` in the
    query. Values parse as ``true``/``false``, integers, floats, or strings.

run_config entries override the header: ``rules.<name>.<parameter>`` sets a
parameter (its type must match the default; an integer may replace a float),
and ``rules.<name>.enabled`` turns the rule on or off. Flower flattens nested
TOML tables with dots, so ``[tool.flwr.app.config.rules.<name>]`` works.

Query contract
--------------
fedprov passes ``$scope`` (the run key), ``$server_round`` (the round whose
config is being decided; the rule must only read earlier rounds),
``$server_id``, ``$config`` (the run_config overlaid with the training config
about to be sent, earlier rule changes included) and every header parameter.
The query must return exactly the columns ``hyperparameter`` (string),
``new_value`` (a number, boolean or string, or null for no change),
``reason`` (string) and ``used_ids`` (list of the ``id`` properties of the
records it read), one row per change. The firing's provenance uses each
entity in ``used_ids`` and is informed by each activity in it. It must be a
read-only query: at load time fedprov runs ``EXPLAIN`` and rejects any query
whose type is not ``r``, and at run time it runs rules in read transactions.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, LiteralString

import neo4j
from neo4j.exceptions import CypherSyntaxError, Neo4jError, ServiceUnavailable

from fedprov.errors import RuleError, StoreError
from fedprov.rules.header import RuleHeader, Scalar, parse_header, rule_error

__all__ = [
    "ENGINE_PARAMETERS",
    "RESULT_COLUMNS",
    "Rule",
    "check_rule",
    "discover_rule_files",
    "load_rules",
    "parse_rule_file",
    "shipped_rules_dir",
]

logger = logging.getLogger(__name__)

#: Columns every rule returns, in any order.
RESULT_COLUMNS = ("hyperparameter", "new_value", "reason", "used_ids")

#: Parameters the engine passes to every rule, with the placeholder values
#: used for ``EXPLAIN``; a header parameter may not reuse these names.
ENGINE_PARAMETERS: Mapping[str, Any] = {
    "scope": "",
    "server_round": 1,
    "server_id": 1,
    "config": {},
}

_REPO_RULES = Path(__file__).resolve().parents[2] / "cypher" / "rules"
_POSITION = re.compile(r"line (\d+), column (\d+)")
_MISSING_PARAMETER = re.compile(r"\$`([^`]+)`")
_MISSING_PARAMETER_STATUS = "01N60"
_WRITE_CLAUSE = re.compile(
    r"\b(CREATE|MERGE|SET|DELETE|DETACH|REMOVE|CALL|LOAD|FOREACH)\b", re.IGNORECASE
)
_PLAN_KEYWORD = re.compile(r"\s*(EXPLAIN|PROFILE)\b", re.IGNORECASE)
# Warnings about labels or properties missing from an empty database are
# expected while no run is stored, so EXPLAIN keeps only the other classes.
_QUIET_CLASSIFICATIONS = [
    neo4j.NotificationDisabledClassification.UNRECOGNIZED,
    neo4j.NotificationDisabledClassification.PERFORMANCE,
    neo4j.NotificationDisabledClassification.HINT,
]


@dataclass(frozen=True)
class Rule:
    """One rule file: its text, digest and parsed header."""

    path: Path
    text: str
    #: SHA-256 of the file's UTF-8 bytes, lowercase hex.
    sha256: str
    header: RuleHeader

    @property
    def name(self) -> str:
        """The rule's ``name`` header value."""
        return self.header.name

    @property
    def query(self) -> LiteralString:
        """The whole file as the Cypher text sent to Neo4j.

        The header lines are Cypher comments, so sending the file unchanged
        keeps Neo4j's line numbers equal to the file's. The text is typed
        ``LiteralString`` because it comes from a rule file that fedprov
        checked at load time, never from training data.
        """
        return self.text


def shipped_rules_dir() -> Path:
    """Return the folder of the rules fedprov ships.

    An installed wheel has them under ``fedprov/_data/cypher/rules``; a source
    checkout in ``cypher/rules`` at the repository root.
    """
    try:
        packaged = resources.files("fedprov").joinpath("_data", "cypher", "rules")
        if packaged.is_dir():
            return Path(str(packaged))
    except (ModuleNotFoundError, FileNotFoundError):
        pass
    return _REPO_RULES


def discover_rule_files(folders: Iterable[Path]) -> list[Path]:
    """List the ``*.cypher`` files directly inside ``folders``, sorted by name.

    Raises
    ------
    RuleError
        If a folder does not exist.
    """
    files: list[Path] = []
    for folder in folders:
        if not folder.is_dir():
            raise RuleError(
                f"rule folder {str(folder)!r} does not exist; create it or remove it "
                "from FEDPROV_RULES_PATH"
            )
        files.extend(sorted(folder.glob("*.cypher")))
    return files


def parse_rule_file(path: Path) -> Rule:
    """Read ``path`` and parse its header, without contacting Neo4j.

    Raises
    ------
    RuleError
        If the file cannot be read, is not UTF-8, or its header is invalid.
    """
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise RuleError(f"cannot read rule file {str(path)!r}: {err}") from err
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise RuleError(
            f"rule file {str(path)!r} is not UTF-8 ({err}); save it as UTF-8"
        ) from err

    header = parse_header(path, text)
    for parameter in header.parameters:
        if parameter in ENGINE_PARAMETERS:
            raise rule_error(
                path,
                header.lines[f"parameters.{parameter}"],
                f"parameter {parameter!r} is reserved for the engine; rename it",
            )
    _reject_plan_keyword(path, text)
    return Rule(
        path=path, text=text, sha256=hashlib.sha256(raw).hexdigest(), header=header
    )


def _reject_plan_keyword(path: Path, text: str) -> None:
    # The first line of Cypher after the comments must not be EXPLAIN or
    # PROFILE, because check_rule prefixes EXPLAIN itself.
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("//"):
            continue
        keyword = _PLAN_KEYWORD.match(stripped)
        if keyword is not None:
            raise rule_error(
                path,
                number,
                f"the query must not start with {keyword[1]!r}; fedprov adds "
                "EXPLAIN itself when it checks the rule",
            )
        return


def _query_lines(rule: Rule) -> list[tuple[int, str]]:
    """Return the numbered lines of Cypher after the header, comments left out."""
    return [
        (number, line)
        for number, line in enumerate(rule.text.splitlines(), start=1)
        if number > rule.header.length
        and line.strip()
        and not line.lstrip().startswith("//")
    ]


def _first_query_line(rule: Rule) -> int:
    lines = _query_lines(rule)
    return lines[0][0] if lines else rule.header.length + 1


def _line_matching(rule: Rule, pattern: re.Pattern[str]) -> int:
    for number, line in _query_lines(rule):
        if pattern.search(line):
            return number
    return _first_query_line(rule)


def _explain(
    tx: neo4j.ManagedTransaction, query: LiteralString, parameters: dict[str, Any]
) -> tuple[list[str], str | None, list[str]]:
    result = tx.run(query, parameters)
    columns = list(result.keys())
    summary = result.consume()
    missing: list[str] = []
    for status in summary.gql_status_objects:
        if status.gql_status == _MISSING_PARAMETER_STATUS:
            missing.extend(_MISSING_PARAMETER.findall(status.status_description))
    return columns, summary.query_type, missing


def check_rule(rule: Rule, driver: neo4j.Driver, database: str) -> None:
    """Check ``rule`` on Neo4j with ``EXPLAIN``: syntax, read-only, columns, parameters.

    Raises
    ------
    RuleError
        If the query does not parse, may write, returns other columns than
        :data:`RESULT_COLUMNS`, or uses a parameter that is neither an engine
        parameter nor declared in the header. The message names file and line.
    StoreError
        If Neo4j cannot be reached.
    """
    parameters = {**ENGINE_PARAMETERS, **rule.header.parameters}
    query: LiteralString = "EXPLAIN " + rule.query
    try:
        with driver.session(
            database=database,
            default_access_mode=neo4j.READ_ACCESS,
            notifications_disabled_classifications=_QUIET_CLASSIFICATIONS,
        ) as session:
            columns, query_type, missing = session.execute_read(
                _explain, query, parameters
            )
    except CypherSyntaxError as err:
        position = _POSITION.search(err.message or "")
        line = int(position[1]) if position else _first_query_line(rule)
        reason = (err.message or str(err)).splitlines()[0]
        raise rule_error(rule.path, line, f"invalid Cypher: {reason}") from err
    except ServiceUnavailable as err:
        raise StoreError(
            f"Neo4j is unreachable while checking rule {rule.name!r} ({err}); "
            "start it with 'fedprov services up' or check NEO4J_URI"
        ) from err
    except Neo4jError as err:
        raise rule_error(
            rule.path,
            _first_query_line(rule),
            f"Neo4j rejected the query: {err.message or err}",
        ) from err

    if query_type != "r":
        raise rule_error(
            rule.path,
            _line_matching(rule, _WRITE_CLAUSE),
            f"the query is not read-only (Neo4j query type {query_type!r}, expected "
            "'r'); remove CREATE, MERGE, SET, DELETE, REMOVE and writing procedures",
        )
    if missing:
        name = missing[0]
        raise rule_error(
            rule.path,
            _line_matching(rule, re.compile(re.escape(f"${name}") + r"\b")),
            f"parameter ${name} is neither an engine parameter "
            f"({', '.join(ENGINE_PARAMETERS)}) nor declared under 'parameters:'",
        )
    if sorted(columns) != sorted(RESULT_COLUMNS):
        raise rule_error(
            rule.path,
            _line_matching(rule, re.compile(r"\bRETURN\b", re.IGNORECASE)),
            f"the query returns columns {columns!r}; it must return exactly "
            f"{', '.join(RESULT_COLUMNS)}",
        )
    _check_bound_parameters(rule)


def _check_bound_parameters(rule: Rule) -> None:
    for key in rule.header.bounds:
        if not key.startswith("$"):
            continue
        value: Scalar = rule.header.parameters[key[1:]]
        if not isinstance(value, str):
            raise rule_error(
                rule.path,
                rule.header.lines[f"bounds.{key}"],
                f"bound {key!r} refers to parameter {key[1:]!r}, whose default "
                f"{value!r} is not a hyperparameter name",
            )


def load_rules(
    driver: neo4j.Driver,
    database: str,
    folders: Sequence[Path] = (),
    *,
    include_shipped: bool = True,
) -> list[Rule]:
    """Parse and check the shipped rules and those in ``folders``.

    A rule in ``folders`` replaces a shipped rule of the same name; two user
    rules with one name are an error.

    Raises
    ------
    RuleError
        If any rule is invalid (see :func:`check_rule`), or two user rules
        share a name.
    """
    shipped = discover_rule_files([shipped_rules_dir()]) if include_shipped else []
    by_name: dict[str, Rule] = {}
    for path in shipped:
        rule = parse_rule_file(path)
        by_name[rule.name] = rule
    user_paths: dict[str, Path] = {}
    for path in discover_rule_files(folders):
        rule = parse_rule_file(path)
        if rule.name in user_paths:
            raise rule_error(
                path,
                rule.header.lines["name"],
                f"rule name {rule.name!r} is already used by "
                f"{str(user_paths[rule.name])!r}; rename one of them",
            )
        if rule.name in by_name:
            logger.info("rule %s in %s replaces the shipped rule", rule.name, path)
        user_paths[rule.name] = path
        by_name[rule.name] = rule

    rules = sorted(by_name.values(), key=lambda item: item.name)
    for rule in rules:
        check_rule(rule, driver, database)
    logger.debug("loaded %d rules: %s", len(rules), ", ".join(r.name for r in rules))
    return rules
