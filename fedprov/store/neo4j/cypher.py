"""Load the Cypher statements that live in ``cypher/<area>/<name>.cypher``.

Every statement fedprov sends to Neo4j is a file, so the query text is never
built from input at run time. The one substitution is a relationship type from
the fixed list of PROV-DM relation names (:func:`load_typed_query`). An
installed wheel carries the files as ``fedprov/_data/cypher``
(``pyproject.toml`` force-includes them); a source checkout has them in
``cypher/`` at the repository root. The wheel location is tried first.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import LiteralString, cast

from fedprov.errors import StoreError
from fedprov.store.neo4j.graph import RELATION_TYPES

__all__ = ["load_query", "load_typed_query"]

#: The token of a dynamic relationship type that load_typed_query replaces.
_DYNAMIC_TYPE = "$(row.type)"

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


@functools.cache
def load_typed_query(name: str, relationship_type: str) -> LiteralString:
    """Return ``load_query(name)`` with its dynamic type set to one type.

    The statement in the file uses ``$(row.type)``; the returned text has the
    static type there instead, which lets Neo4j's planner use the type.

    Raises
    ------
    StoreError
        If the type is not a PROV-DM relation name, or the file has no
        ``$(row.type)``.
    """
    if relationship_type not in RELATION_TYPES:
        raise StoreError(
            f"relationship type {relationship_type!r} is not a PROV relation; "
            f"expected one of {sorted(RELATION_TYPES)}"
        )
    text = load_query(name)
    if _DYNAMIC_TYPE not in text:
        raise StoreError(
            f"Cypher query {name!r} has no {_DYNAMIC_TYPE} to set a type in"
        )
    typed: str = text.replace(_DYNAMIC_TYPE, f"`{relationship_type}`")
    return cast(LiteralString, typed)  # type: ignore[redundant-cast]
