"""Settings read from ``FEDPROV_*`` and the standard server variables.

This is the only module that reads environment variables for fedprov. Each
field documents its variable, default and unit. A server variable such as
``NEO4J_URI`` or ``MONGODB_URI`` means "use this external server": fedprov
then starts nothing for that service.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fedprov.errors import ConfigurationError

__all__ = ["Settings", "load_settings"]

_REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_data_dir(home: Path) -> Path:
    # A development checkout sits beside ../shared/data/cifar10; an installed
    # package keeps its data under FEDPROV_HOME.
    shared = _REPO_ROOT.parent / "shared" / "data" / "cifar10"
    if shared.is_dir():
        return shared
    return home / "data" / "cifar10"


@dataclass(frozen=True)
class Settings:
    """Where fedprov keeps its state and how it reaches its servers."""

    #: ``FEDPROV_HOME``: state folder (Neo4j data and logs, credentials,
    #: FerretDB data, journals, local checkpoints). Default ``~/.fedprov``.
    home: Path
    #: ``FEDPROV_CACHE``: downloads shared by all state folders (Neo4j jars,
    #: the FerretDB binary). Default ``~/.cache/fedprov``.
    cache: Path
    #: ``FEDPROV_DATA_DIR``: folder holding ``cifar-10-batches-py/``.
    data_dir: Path
    #: ``FEDPROV_NEO4J_BOLT_PORT``: Bolt port of the local Neo4j (127.0.0.1).
    neo4j_bolt_port: int = 7687
    #: ``FEDPROV_NEO4J_HTTP_PORT``: HTTP port of the local Neo4j and Browser.
    neo4j_http_port: int = 7474
    #: ``FEDPROV_NEO4J_HEAP``: maximum Java heap of the local Neo4j, e.g. ``1g``.
    neo4j_heap: str = "1g"
    #: ``FEDPROV_NEO4J_PAGECACHE``: page cache size of the local Neo4j.
    neo4j_pagecache: str = "512m"
    #: ``FEDPROV_NEO4J_NICE``: how much lower than normal the local Neo4j's
    #: CPU priority is (0 to 19), so that a federation training on the same
    #: machine gets the cores first. 0 keeps the normal priority.
    neo4j_nice: int = 10
    #: ``FEDPROV_MONGO_PORT``: port of the local FerretDB (127.0.0.1).
    mongo_port: int = 27017
    #: ``FEDPROV_START_TIMEOUT``: seconds ``services up`` waits for readiness.
    start_timeout: float = 120.0
    #: ``NEO4J_URI``: an external Neo4j; when set fedprov starts no Neo4j.
    neo4j_uri: str | None = None
    #: ``NEO4J_USER``: user name for an external Neo4j (default ``neo4j``).
    neo4j_user: str = "neo4j"
    #: ``NEO4J_PASSWORD``: password for an external Neo4j.
    neo4j_password: str | None = field(default=None, repr=False)
    #: ``NEO4J_DATABASE``: database name (Community has one user database).
    neo4j_database: str = "neo4j"
    #: ``MONGODB_URI``: an external MongoDB; when set fedprov starts no FerretDB.
    mongodb_uri: str | None = field(default=None, repr=False)
    #: ``FEDPROV_MONGO_DATABASE``: MongoDB database for checkpoints and their
    #: metadata documents.
    mongo_database: str = "fedprov"
    #: ``FEDPROV_MONETDB_URL`` (or ``MONETDB_URL``): MonetDB for the relational
    #: view, e.g. ``monetdb://user:password@127.0.0.1:50000/fedprov``.
    monetdb_url: str | None = field(default=None, repr=False)
    #: ``FEDPROV_RULES_PATH``: extra rule folders, separated by ``os.pathsep``.
    rules_path: tuple[Path, ...] = ()
    #: ``FEDPROV_MONITOR_PORT``: port of ``fedprov monitor`` on 127.0.0.1.
    monitor_port: int = 8501

    @property
    def state_file(self) -> Path:
        """JSON file with the local servers' PIDs, ports and generated password."""
        return self.home / "services.json"

    @property
    def journal_dir(self) -> Path:
        """Folder of the append-only capture journals, one file per run."""
        return self.home / "journal"

    @property
    def checkpoint_dir(self) -> Path:
        """Folder of local checkpoints, used when no MongoDB is configured."""
        return self.home / "checkpoints"


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        port = int(raw)
    except ValueError:
        raise ConfigurationError(
            f"{name}={raw!r} is not a port number; set it to an integer "
            "between 1 and 65535 or unset it"
        ) from None
    if not 1 <= port <= 65535:
        raise ConfigurationError(
            f"{name}={raw!r} is outside 1..65535; choose a free port in that range"
        )
    return port


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(
            f"{name}={raw!r} is not a number of seconds; set e.g. {name}=120"
        ) from None
    if value <= 0:
        raise ConfigurationError(f"{name}={raw!r} must be a positive number of seconds")
    return value


def _nice(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(
            f"{name}={raw!r} is not a nice increment; set an integer from 0 "
            "(normal priority) to 19 (lowest) or unset it"
        ) from None
    if not 0 <= value <= 19:
        raise ConfigurationError(
            f"{name}={raw!r} is outside 0..19; set 0 for normal priority or up "
            "to 19 for the lowest"
        )
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from ``env`` (default: ``os.environ``).

    Raises
    ------
    ConfigurationError
        If a port or duration variable does not parse; the message names the
        variable, its value and the expected form.
    """
    env = os.environ if env is None else env
    home = Path(env.get("FEDPROV_HOME") or Path.home() / ".fedprov").expanduser()
    cache = Path(env.get("FEDPROV_CACHE") or Path.home() / ".cache" / "fedprov")
    data_dir = env.get("FEDPROV_DATA_DIR")
    rules = env.get("FEDPROV_RULES_PATH", "")
    return Settings(
        home=home.resolve(),
        cache=cache.expanduser().resolve(),
        data_dir=Path(data_dir).expanduser() if data_dir else _default_data_dir(home),
        neo4j_bolt_port=_port(env, "FEDPROV_NEO4J_BOLT_PORT", 7687),
        neo4j_http_port=_port(env, "FEDPROV_NEO4J_HTTP_PORT", 7474),
        neo4j_heap=env.get("FEDPROV_NEO4J_HEAP") or "1g",
        neo4j_pagecache=env.get("FEDPROV_NEO4J_PAGECACHE") or "512m",
        neo4j_nice=_nice(env, "FEDPROV_NEO4J_NICE", 10),
        mongo_port=_port(env, "FEDPROV_MONGO_PORT", 27017),
        start_timeout=_seconds(env, "FEDPROV_START_TIMEOUT", 120.0),
        neo4j_uri=env.get("NEO4J_URI") or None,
        neo4j_user=env.get("NEO4J_USER") or "neo4j",
        neo4j_password=env.get("NEO4J_PASSWORD") or None,
        neo4j_database=env.get("NEO4J_DATABASE") or "neo4j",
        mongodb_uri=env.get("MONGODB_URI") or None,
        mongo_database=env.get("FEDPROV_MONGO_DATABASE") or "fedprov",
        monetdb_url=env.get("FEDPROV_MONETDB_URL") or env.get("MONETDB_URL") or None,
        rules_path=tuple(Path(p).expanduser() for p in rules.split(os.pathsep) if p),
        monitor_port=_port(env, "FEDPROV_MONITOR_PORT", 8501),
    )
