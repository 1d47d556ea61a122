"""Load the Cypher statements that live in ``cypher/<area>/<name>.cypher``.

Every statement fedprov sends to Neo4j is a file, so the query text is never
built from strings at run time. An installed wheel carries the files as
``fedprov/_data/cypher`` (``pyproject.toml`` force-includes them); a source
checkout has them in ``cypher/`` at the repository root. The wheel location is
tried first.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import LiteralString, cast

from fedprov.errors import StoreError

__all__ = ["load_query"]

_REPO_CYPHER = Path(__file__).resolve().parents[3] / "cypher"
_NAME = re.compile(r"[a-z0-9_]+(/[a-z0-9_]+)*")


def _candidates(name: str) -> list[Traversable | Path]:
    found: list[Traversable | Path] = []
    try:
        data = resources.files("fedprov").joinpath("_data", "cypher")
        found.append(data.joinpath(*f"{name}.cypher".split("/")))
    except (ModuleNotFoundError, FileNotFoundError):
        pass
    found.append(_REPO_CYPHER / f"{name}.cypher")
    return found


@functools.cache
def load_query(name: str) -> LiteralString:
    """Return the text of ``cypher/<name>.cypher``, e.g. ``"store/merge_nodes"``.

    The text is read once and cached. It is typed ``LiteralString`` because it
    comes from a file in the package, never from user input, which is what the
    Neo4j driver's ``LiteralString`` query parameter asks for.

    Parameters
    ----------
    name
        Path below ``cypher/`` without the ``.cypher`` suffix: lowercase
        letters, digits and underscores, sub-folders separated by ``/``.

    Raises
    ------
    StoreError
        If the name is malformed or no such file exists.

    Examples
    --------
    >>> load_query("store/delete_scope").startswith("//")
    True
    """
    if not _NAME.fullmatch(name):
        raise StoreError(
            f"invalid Cypher query name {name!r}: expected lowercase path parts "
            "separated by '/', without the .cypher suffix, e.g. 'store/merge_nodes'"
        )
    for path in _candidates(name):
        if path.is_file():
            text: str = path.read_text(encoding="utf-8")
            return cast(LiteralString, text)  # type: ignore[redundant-cast]
    raise StoreError(
        f"Cypher query {name!r} not found: no {name}.cypher in fedprov/_data/cypher "
        f"or {_REPO_CYPHER}; add the file or reinstall fedprov"
    )
