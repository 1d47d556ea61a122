"""Start, stop and report the local services as one unit.

A service whose external server is configured (``NEO4J_URI``,
``MONGODB_URI``) is never started: fedprov uses that server instead.
"""

from __future__ import annotations

import logging
from typing import Any

from fedprov.services.ferretdb import FerretDBServer
from fedprov.services.neo4j_server import Neo4jServer
from fedprov.services.state import read_state, write_state
from fedprov.settings import Settings

__all__ = [
    "SERVICE_NAMES",
    "mongodb_uri",
    "services_down",
    "services_status",
    "services_up",
]

logger = logging.getLogger(__name__)

SERVICE_NAMES = ("neo4j", "ferretdb")


def _servers(settings: Settings) -> dict[str, Neo4jServer | FerretDBServer]:
    return {"neo4j": Neo4jServer(settings), "ferretdb": FerretDBServer(settings)}


def _external(settings: Settings, name: str) -> bool:
    if name == "neo4j":
        return settings.neo4j_uri is not None
    return settings.mongodb_uri is not None


def services_up(
    settings: Settings, names: tuple[str, ...] = SERVICE_NAMES
) -> dict[str, Any]:
    """Start the named services that have no external server; return the state."""
    state = read_state(settings)
    servers = _servers(settings)
    for name in names:
        if _external(settings, name):
            logger.info("%s: using the external server from the environment", name)
            continue
        state[name] = servers[name].start(state.get(name, {}))
        write_state(settings, state)
    return state


def services_down(settings: Settings, names: tuple[str, ...] = SERVICE_NAMES) -> None:
    """Stop the named services that this state file started, by PID."""
    state = read_state(settings)
    servers = _servers(settings)
    for name in names:
        entry = state.get(name)
        if not entry:
            continue
        servers[name].stop(entry)
        entry.pop("pid", None)
        write_state(settings, state)


def services_status(settings: Settings) -> list[dict[str, str]]:
    """Return one status row per service."""
    state = read_state(settings)
    rows = []
    for name, server in _servers(settings).items():
        if _external(settings, name):
            rows.append(
                {
                    "service": name,
                    "status": "external",
                    "pid": "",
                    "address": "from NEO4J_URI"
                    if name == "neo4j"
                    else "from MONGODB_URI",
                    "extra": "",
                    "listening": "",
                }
            )
            continue
        rows.append(server.describe(state.get(name, {})))
    return rows


def mongodb_uri(settings: Settings) -> str | None:
    """Return ``MONGODB_URI``, else the running local FerretDB's URI, else None."""
    if settings.mongodb_uri:
        return settings.mongodb_uri
    entry = read_state(settings).get("ferretdb", {})
    if FerretDBServer(settings).is_ours_running(entry):
        return f"mongodb://127.0.0.1:{entry['port']}/"
    return None
