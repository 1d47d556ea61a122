"""Open a driver to the configured Neo4j: an external server or the local one."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import neo4j
from neo4j.exceptions import AuthError, ServiceUnavailable

from fedprov.errors import AuthenticationError, ConfigurationError, StoreError
from fedprov.services.state import read_state
from fedprov.settings import Settings

__all__ = ["Neo4jTarget", "open_driver", "resolve_target"]

logger = logging.getLogger(__name__)

# The driver's own URI schemes; its http(s) support needs extras fedprov does
# not install.
_BOLT_SCHEMES = (
    "bolt://",
    "bolt+s://",
    "bolt+ssc://",
    "neo4j://",
    "neo4j+s://",
    "neo4j+ssc://",
)


@dataclass(frozen=True)
class Neo4jTarget:
    """Address and login of a Neo4j server; its repr leaves out the password."""

    uri: str
    user: str
    password: str = field(repr=False)
    database: str
    external: bool


def resolve_target(settings: Settings) -> Neo4jTarget:
    """Choose the external server from ``NEO4J_URI`` or the local one.

    Raises
    ------
    StoreError
        If no ``NEO4J_URI`` is set and no local server was set up with
        ``fedprov services up``.
    """
    if settings.neo4j_uri:
        return Neo4jTarget(
            uri=settings.neo4j_uri,
            user=settings.neo4j_user,
            password=settings.neo4j_password or "",
            database=settings.neo4j_database,
            external=True,
        )
    state = read_state(settings)
    password = state.get("neo4j", {}).get("password")
    if not password:
        raise StoreError(
            f"no Neo4j is configured: no NEO4J_URI is set and {settings.state_file} "
            "has no local server; run 'fedprov services up' or set NEO4J_URI, "
            "NEO4J_USER and NEO4J_PASSWORD"
        )
    return Neo4jTarget(
        uri=f"bolt://127.0.0.1:{state['neo4j']['bolt_port']}",
        user="neo4j",
        password=password,
        database=settings.neo4j_database,
        external=False,
    )


def open_driver(settings: Settings, *, verify: bool = True) -> tuple[neo4j.Driver, str]:
    """Open a driver and return it with the database name to use.

    Raises
    ------
    AuthenticationError
        If the server rejects the user name or password.
    StoreError
        If the server cannot be reached.
    """
    target = resolve_target(settings)
    if target.external and not target.password:
        raise ConfigurationError(
            f"NEO4J_URI is set to {target.uri!r} but NEO4J_PASSWORD is not set; "
            "set it, or unset NEO4J_URI to use the local server"
        )
    if not target.uri.startswith(_BOLT_SCHEMES):
        raise ConfigurationError(
            f"NEO4J_URI={target.uri!r} is not a Bolt URI; use e.g. "
            "bolt://127.0.0.1:7687 or neo4j://host:7687"
        )
    # The server warns about labels and properties that no record has yet
    # (a fresh database, a run without rule firings); those are expected.
    driver = neo4j.GraphDatabase.driver(
        target.uri,
        auth=(target.user, target.password),
        notifications_disabled_classifications=[
            neo4j.NotificationDisabledClassification.UNRECOGNIZED
        ],
    )
    if not verify:
        return driver, target.database
    try:
        driver.verify_connectivity()
    except AuthError as err:
        driver.close()
        source = (
            "NEO4J_USER/NEO4J_PASSWORD" if target.external else str(settings.state_file)
        )
        raise AuthenticationError(
            f"Neo4j at {target.uri} rejected user {target.user!r}: the password is "
            f"wrong; check {source}"
        ) from err
    except (ServiceUnavailable, OSError) as err:
        driver.close()
        hint = "check NEO4J_URI" if target.external else "run 'fedprov services up'"
        raise StoreError(
            f"Neo4j at {target.uri} is unreachable ({err}); {hint}"
        ) from err
    logger.debug("connected to Neo4j at %s", target.uri)
    return driver, target.database
