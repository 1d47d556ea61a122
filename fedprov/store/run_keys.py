"""Check a run key against the stored ones."""

from __future__ import annotations

from collections.abc import Sequence

from fedprov.errors import ConfigurationError

__all__ = ["require_stored_run"]


def require_stored_run(run: str, stored: Sequence[str]) -> None:
    """Check that ``run`` is among the ``stored`` run keys.

    Raises
    ------
    ConfigurationError
        If it is not; the message lists up to ten stored keys.
    """
    if run in stored:
        return
    listed = ", ".join(sorted(stored)[:10]) or "none"
    raise ConfigurationError(
        f"run {run!r} is not in Neo4j; stored runs: {listed}. "
        "List them with 'fedprov runs'"
    )
