"""Fixtures for the CIFAR-10 app tests: the mini data set and CLI runs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import neo4j
import pytest

from fedprov.settings import Settings
from fedprov.store.neo4j.connection import resolve_target
from fedprov.store.neo4j.store import Neo4jProvStore

FEDPROV = Path(sys.executable).with_name("fedprov")


@pytest.fixture(scope="session")
def mini_data_dir(settings: Settings) -> Path:
    """The 500-image CIFAR-10 set (``<data dir>/mini`` or the data dir itself)."""
    mini = settings.data_dir / "mini"
    return mini if (mini / "cifar-10-batches-py").is_dir() else settings.data_dir


@pytest.fixture
def prov_store(
    neo4j_driver: neo4j.Driver, neo4j_database: str, scope: str
) -> Iterator[Neo4jProvStore]:
    """The Neo4j store; the test's scope is deleted afterwards."""
    store = Neo4jProvStore(neo4j_driver, neo4j_database)
    yield store
    if store.has_scope(scope):
        store.delete(scope)


@pytest.fixture
def run_env(
    settings: Settings,
    tmp_path: Path,
    mini_data_dir: Path,
    mongodb_database: tuple[str, str],
) -> dict[str, str]:
    """Environment of a ``fedprov`` subprocess: mini data, own home and database.

    The subprocess gets its own ``FEDPROV_HOME``, so the Neo4j that the
    test session uses (external, or the local one from the session's state
    file) is passed on explicitly.
    """
    uri, name = mongodb_database
    target = resolve_target(settings)
    env = dict(os.environ)
    env.update(
        NEO4J_URI=target.uri,
        NEO4J_USER=target.user,
        NEO4J_PASSWORD=target.password,
        NEO4J_DATABASE=target.database,
    )
    env.update(
        FEDPROV_HOME=str(tmp_path / "home"),
        FEDPROV_DATA_DIR=str(mini_data_dir),
        MONGODB_URI=uri,
        FEDPROV_MONGO_DATABASE=name,
        MPLCONFIGDIR=str(tmp_path / "matplotlib"),
    )
    return env


def run_fedprov(
    args: list[str], env: dict[str, str], timeout: float = 240.0
) -> subprocess.CompletedProcess[str]:
    """Run the ``fedprov`` command and return its completed process."""
    return subprocess.run(
        [str(FEDPROV), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
