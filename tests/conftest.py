"""Shared fixtures: real servers only.

Tests reach Neo4j through the same settings users have: ``NEO4J_URI`` and
friends for an external server, else the local server that
``fedprov services up`` started (``.ci/run`` starts it). Each test writes under
its own scope, so tests never wipe data that another test wrote.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import neo4j
import pytest

from fedprov.errors import StoreError
from fedprov.settings import Settings, load_settings
from fedprov.store.neo4j.connection import open_driver, resolve_target


@pytest.fixture(scope="session", autouse=True)
def _neo4j_environment() -> Iterator[None]:
    """Export the session's Neo4j as ``NEO4J_*`` for the whole session.

    Many tests start ``fedprov``, Flower or notebook kernels in subprocesses
    with a ``FEDPROV_HOME`` of their own, where the local server's state
    file is not; the variables let them reach the same server.
    """
    if os.environ.get("NEO4J_URI"):
        yield
        return
    try:
        target = resolve_target(load_settings())
    except StoreError:
        yield  # no server set up: tests that need one fail on their own
        return
    exported = {
        "NEO4J_URI": target.uri,
        "NEO4J_USER": target.user,
        "NEO4J_PASSWORD": target.password,
    }
    os.environ.update(exported)
    try:
        yield
    finally:
        for name in exported:
            os.environ.pop(name, None)


@pytest.fixture(scope="session")
def settings(_neo4j_environment: None) -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def neo4j_driver(settings: Settings) -> Iterator[neo4j.Driver]:
    driver, _database = open_driver(settings)
    yield driver
    driver.close()


@pytest.fixture(scope="session")
def neo4j_database(settings: Settings) -> str:
    return settings.neo4j_database


@pytest.fixture
def scope() -> str:
    """A fresh run key, so each test's records live apart."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def mongodb_database(settings: Settings) -> Iterator[tuple[str, str]]:
    """A fresh database on the MongoDB of ``MONGODB_URI``, dropped afterwards.

    Yields the URI and the database name.
    """
    import pymongo

    if not settings.mongodb_uri:
        raise RuntimeError(
            "MONGODB_URI is not set; point it at a MongoDB or FerretDB server "
            "(e.g. the one 'fedprov services up' starts)"
        )
    name = f"fedprov_test_{uuid.uuid4().hex[:12]}"
    yield settings.mongodb_uri, name
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(
        settings.mongodb_uri, serverSelectionTimeoutMS=5000
    )
    try:
        client.drop_database(name)
    finally:
        client.close()
