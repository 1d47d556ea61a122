"""Run the named lineage queries against the Neo4j store.

:class:`Lineage` wraps an open driver: :meth:`Lineage.run` runs any named
query with a parameter mapping, and one method per query gives it typed
arguments. Rows come back as dicts whose Neo4j temporal values are
converted to :mod:`datetime` values.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import neo4j
import neo4j.time
from neo4j.exceptions import DriverError, Neo4jError

from fedprov.errors import ConfigurationError, StoreError
from fedprov.lineage.queries import get_query
from fedprov.store.run_keys import require_stored_run

__all__ = ["Lineage", "to_python"]

logger = logging.getLogger(__name__)

Row = dict[str, Any]


def to_python(value: Any) -> Any:
    """Return ``value`` with Neo4j temporal values (also inside lists and maps)
    converted to :mod:`datetime` values."""
    if isinstance(value, neo4j.time.DateTime | neo4j.time.Date | neo4j.time.Time):
        return value.to_native()
    if isinstance(value, neo4j.time.Duration):
        return value
    if isinstance(value, list):
        return [to_python(item) for item in value]
    if isinstance(value, dict):
        return {key: to_python(item) for key, item in value.items()}
    return value


class Lineage:
    """The lineage queries of one Neo4j database.

    Parameters
    ----------
    driver
        An open driver (see :func:`fedprov.store.neo4j.connection.open_driver`);
        ``Lineage`` does not close it.
    database
        Database name.

    Examples
    --------
    >>> lineage = Lineage(driver, "neo4j")  # doctest: +SKIP
    >>> [row["node"] for row in lineage.contributors("run-1", 3)]  # doctest: +SKIP
    ['1111', '2222']
    """

    def __init__(self, driver: neo4j.Driver, database: str) -> None:
        self.driver = driver
        self.database = database

    def run(self, name: str, parameters: Mapping[str, Any] | None = None) -> list[Row]:
        """Run the named query and return its rows.

        Parameters
        ----------
        name
            A name from :data:`fedprov.lineage.queries.QUERY_NAMES`.
        parameters
            Values by parameter name; text values are converted to the
            declared types, and optional parameters left out are sent as null.

        Raises
        ------
        ConfigurationError
            If the name or a parameter is invalid.
        StoreError
            If Neo4j is unreachable or the query fails.
        """
        query = get_query(name)
        bound = query.bind(parameters or {})
        try:
            with self.driver.session(
                database=self.database,
                default_access_mode=neo4j.READ_ACCESS,
                notifications_min_severity="OFF",
            ) as session:
                records = session.run(query.text, bound).data()
        except (Neo4jError, DriverError, OSError) as err:
            raise StoreError(f"lineage query {name!r} failed in Neo4j: {err}") from err
        logger.debug("lineage query %s returned %d rows", name, len(records))
        return [{key: to_python(value) for key, value in r.items()} for r in records]

    def scopes(self) -> list[str]:
        """Return the run keys stored in the database, sorted."""
        return sorted(row["scope"] for row in self.runs())

    def require_run(self, scope: str) -> None:
        """Check that ``scope`` is a stored run.

        Raises
        ------
        ConfigurationError
            If no run has that key; the message lists the stored ones.
        """
        require_stored_run(scope, self.scopes())

    def require_round(self, scope: str, server_round: int) -> None:
        """Check that ``scope`` has a global model of ``server_round``.

        Raises
        ------
        ConfigurationError
            If the run has no model of that round; the message gives the
            rounds it has.
        """
        # Round 0 is the initial model, which no round trained.
        recorded = {row["round"] for row in self.global_models(scope)}
        rounds = sorted(int(r) for r in recorded if r is not None and int(r) >= 1)
        if server_round in rounds:
            return
        have = f"rounds {rounds[0]} to {rounds[-1]}" if rounds else "no rounds"
        raise ConfigurationError(
            f"round {server_round} is not in run {scope!r}, which has {have}; "
            "pass one of those with --round"
        )

    # One method per query --------------------------------------------------

    def runs(self) -> list[Row]:
        """Return every run with status, rounds and final accuracy."""
        return self.run("runs")

    def global_models(self, scope: str) -> list[Row]:
        """Return the global model versions of a run with their digest chain."""
        return self.run("global_models", {"scope": scope})

    def model_ancestors(
        self, scope: str, server_round: int, server: int | None = None
    ) -> list[Row]:
        """Return every record that the global model of ``server_round`` came from."""
        return self.run(
            "model_ancestors", {"scope": scope, "round": server_round, "server": server}
        )

    def contributors(
        self, scope: str, server_round: int, server: int | None = None
    ) -> list[Row]:
        """Return the client updates in the global model of ``server_round``."""
        return self.run(
            "contributors", {"scope": scope, "round": server_round, "server": server}
        )

    def client_configs(self, scope: str, server_round: int) -> list[Row]:
        """Return the training config each client trained with in a round."""
        return self.run("client_configs", {"scope": scope, "round": server_round})

    def rule_firings(self, scope: str) -> list[Row]:
        """Return every rule firing of a run and what it read."""
        return self.run("rule_firings", {"scope": scope})

    def checkpoints(self, scope: str) -> list[Row]:
        """Return the checkpoints of a run and the model each holds."""
        return self.run("checkpoints", {"scope": scope})

    def failures(self, scope: str) -> list[Row]:
        """Return the client and rule failures of a run."""
        return self.run("failures", {"scope": scope})

    def run_timeline(self, scope: str, server_round: int | None = None) -> list[Row]:
        """Return the activities of a run (or of one round) in time order."""
        return self.run("run_timeline", {"scope": scope, "round": server_round})

    def round_metrics(self, scope: str) -> list[Row]:
        """Return every metric value of a run, per round and client."""
        return self.run("round_metrics", {"scope": scope})

    def path_between(self, scope: str, source: str, target: str) -> list[Row]:
        """Return the steps of the shortest relation path between two records."""
        return self.run(
            "path_between", {"scope": scope, "source": source, "target": target}
        )

    def run_diff(self, scope: str, other: str) -> list[Row]:
        """Return the rounds in which two runs differ, first difference first."""
        return self.run("run_diff", {"scope": scope, "other": other})
