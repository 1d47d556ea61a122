"""Adjustment rules: Cypher queries over a run's lineage that change the next config.

See :mod:`fedprov.rules.loader` for the rule file format and
:mod:`fedprov.rules.engine` for how rules run between rounds.
"""

from fedprov.rules.engine import (
    STOP_HYPERPARAMETER,
    Decision,
    RoundOutcome,
    RuleEngine,
)
from fedprov.rules.loader import Rule, check_rule, load_rules, parse_rule_file
from fedprov.rules.replay import dry_run

__all__ = [
    "STOP_HYPERPARAMETER",
    "Decision",
    "RoundOutcome",
    "Rule",
    "RuleEngine",
    "check_rule",
    "dry_run",
    "load_rules",
    "parse_rule_file",
]
