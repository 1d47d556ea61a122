"""The named lineage queries: their names, descriptions, parameters and text.

Each query is a file ``cypher/lineage/<name>.cypher`` that starts with a
header comment in this form::

    // Query: contributors
    // The clients whose updates went into global model k, and with what weight.
    // Parameters:
    //   $scope (string): the run key.
    //   $server (integer, optional): fl:serverId; null picks the newest.
    // Returns: one row per client update, ...

:data:`QUERY_NAMES` is the closed list of those files; a test checks that it
matches the folder. :func:`get_query` parses a header into a
:class:`LineageQuery`, which converts ``key=value`` text from the command
line into typed Cypher parameters.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, LiteralString

from fedprov.errors import ConfigurationError
from fedprov.store.neo4j.cypher import load_query

__all__ = [
    "QUERY_NAMES",
    "LineageQuery",
    "Parameter",
    "all_queries",
    "get_query",
]

#: Every named lineage query, in the order ``fedprov query --list`` shows.
QUERY_NAMES: tuple[str, ...] = (
    "runs",
    "global_models",
    "model_ancestors",
    "contributors",
    "client_configs",
    "rule_firings",
    "checkpoints",
    "failures",
    "run_timeline",
    "round_metrics",
    "path_between",
    "run_diff",
)

#: Parameter types a header may declare, with the Python type they become.
_TYPES: Mapping[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
}
_PARAMETER = re.compile(
    r"\$(?P<name>[a-z_][a-z0-9_]*) \((?P<type>[a-z]+)(?P<optional>, optional)?\): "
    r"(?P<description>.*)"
)
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
_NULL = frozenset({"null", "none", ""})


@dataclass(frozen=True)
class Parameter:
    """One ``$parameter`` of a named query."""

    name: str
    #: ``string``, ``integer``, ``float`` or ``boolean``.
    type: str
    description: str
    #: An optional parameter is sent as ``null`` when not given.
    optional: bool = False

    def convert(self, text: str) -> Any:
        """Return ``text`` as a value of this parameter's type.

        ``null`` (or ``none``, or an empty value) gives ``None`` for an
        optional parameter.

        Raises
        ------
        ConfigurationError
            If ``text`` does not parse as the parameter's type.
        """
        if self.optional and text.strip().lower() in _NULL:
            return None
        if self.type == "string":
            return text
        if self.type == "boolean":
            lowered = text.strip().lower()
            if lowered in _TRUE | _FALSE:
                return lowered in _TRUE
        else:
            try:
                return _TYPES[self.type](text)
            except ValueError:
                pass
        raise ConfigurationError(
            f"parameter {self.name}={text!r} is not a valid {self.type}; "
            f"pass e.g. --param {self.name}={_EXAMPLES[self.type]}"
        )


_EXAMPLES = {"string": "text", "integer": "3", "float": "0.5", "boolean": "true"}


@dataclass(frozen=True)
class LineageQuery:
    """A named Cypher query with its documentation."""

    name: str
    #: First lines of the header, joined into one paragraph.
    description: str
    parameters: tuple[Parameter, ...]
    #: The ``Returns:`` paragraph of the header.
    returns: str
    text: LiteralString

    def parameter(self, name: str) -> Parameter:
        """Return the parameter called ``name``.

        Raises
        ------
        ConfigurationError
            If the query has no such parameter.
        """
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        known = ", ".join(p.name for p in self.parameters) or "none"
        raise ConfigurationError(
            f"query {self.name!r} has no parameter {name!r}; its parameters: {known}"
        )

    def bind(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Return the Cypher parameters for ``values``, with optional ones as null.

        Values that are text are converted to the declared type; other values
        are passed on unchanged.

        Raises
        ------
        ConfigurationError
            If a name is unknown, a required parameter is missing or a text
            value does not parse.
        """
        bound: dict[str, Any] = {}
        for name, value in values.items():
            parameter = self.parameter(name)
            bound[name] = parameter.convert(value) if isinstance(value, str) else value
        for parameter in self.parameters:
            if parameter.name in bound:
                continue
            if not parameter.optional:
                raise ConfigurationError(
                    f"query {self.name!r} needs parameter {parameter.name!r} "
                    f"({parameter.description}); pass --param {parameter.name}=..."
                )
            bound[parameter.name] = None
        return bound


def _parse_header(name: str, text: str) -> LineageQuery:
    lines = []
    for line in text.splitlines():
        if not line.startswith("//"):
            break
        lines.append(line[2:].strip())
    if not lines or lines[0] != f"Query: {name}":
        raise ConfigurationError(
            f"cypher/lineage/{name}.cypher must start with the comment "
            f"'// Query: {name}'"
        )

    description: list[str] = []
    parameters: list[Parameter] = []
    returns: list[str] = []
    section = description
    for line in lines[1:]:
        if line.startswith("Parameters:"):
            section = []
            continue
        if line.startswith("Returns:"):
            section = returns
            line = line.removeprefix("Returns:").strip()
        elif section is not description and section is not returns:
            match = _PARAMETER.fullmatch(line)
            if match is not None:
                if match["type"] not in _TYPES:
                    raise ConfigurationError(
                        f"cypher/lineage/{name}.cypher declares ${match['name']} of "
                        f"unknown type {match['type']!r}; use one of {sorted(_TYPES)}"
                    )
                parameters.append(
                    Parameter(
                        match["name"],
                        match["type"],
                        match["description"],
                        optional=bool(match["optional"]),
                    )
                )
                continue
            if parameters:
                # A continuation line of the previous parameter's description.
                last = parameters.pop()
                parameters.append(
                    Parameter(
                        last.name,
                        last.type,
                        f"{last.description} {line}",
                        last.optional,
                    )
                )
            continue
        section.append(line)
    return LineageQuery(
        name=name,
        description=" ".join(description),
        parameters=tuple(parameters),
        returns=" ".join(returns),
        text=load_query(f"lineage/{name}"),
    )


@functools.cache
def get_query(name: str) -> LineageQuery:
    """Return the named lineage query, e.g. ``get_query("contributors")``.

    Raises
    ------
    ConfigurationError
        If no query has that name, or its file's header is malformed.
    """
    if name not in QUERY_NAMES:
        raise ConfigurationError(
            f"no lineage query named {name!r}; run 'fedprov query --list' to see "
            f"them: {', '.join(QUERY_NAMES)}"
        )
    return _parse_header(name, load_query(f"lineage/{name}"))


def all_queries() -> list[LineageQuery]:
    """Return every named lineage query in :data:`QUERY_NAMES` order."""
    return [get_query(name) for name in QUERY_NAMES]
