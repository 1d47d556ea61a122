"""The state file of the local services: PIDs, ports and the Neo4j password.

The file lives in ``FEDPROV_HOME`` and is created readable by its owner only
(mode 0600), because it holds the generated Neo4j password.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fedprov.errors import ServiceError
from fedprov.settings import Settings

__all__ = ["read_state", "write_state"]


def read_state(settings: Settings) -> dict[str, Any]:
    """Return the saved state, or an empty dict when there is none."""
    path = settings.state_file
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ServiceError(
            f"cannot read the services state file {path}: {err}; fix or delete it "
            "and run 'fedprov services up' again"
        ) from err
    if not isinstance(data, dict):
        raise ServiceError(f"{path} does not hold a JSON object; delete it")
    return data


def write_state(settings: Settings, state: dict[str, Any]) -> None:
    """Replace the state file atomically, readable by its owner only."""
    path: Path = settings.state_file
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=2, sort_keys=True)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
