"""Neo4j Browser support: the graph style and ready queries for a run's lineage.

``fedprov.grass`` (package data) draws entities yellow, activities blue and
agents orange, the colours PROV diagrams use, and captions each node with
its qname (rounds with ``fl:round``). Apply it in the Browser with
``:style`` followed by the file's text, or drop the file on the Browser's
style panel.

The ready queries are the files of ``cypher/browser/``. They return paths,
so the Browser draws them as graphs, and read ``$scope`` (and ``$round``),
which the Browser sets with ``:param``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from urllib.parse import urlsplit

from fedprov.services.state import read_state
from fedprov.settings import Settings
from fedprov.store.neo4j.cypher import load_query

__all__ = [
    "READY_QUERY_NAMES",
    "ReadyQuery",
    "browser_url",
    "param_commands",
    "ready_queries",
    "style_command",
    "style_text",
]

#: The files of ``cypher/browser/``, in the order ``fedprov browser`` prints them.
READY_QUERY_NAMES: tuple[str, ...] = (
    "run_overview",
    "model_lineage",
    "contributors",
    "rule_firings",
    "checkpoints",
    "failures",
)


@dataclass(frozen=True)
class ReadyQuery:
    """A query to paste into the Neo4j Browser."""

    name: str
    #: The ``// Browser:`` title line.
    title: str
    #: The comment line below the title.
    description: str
    text: str

    @property
    def parameters(self) -> tuple[str, ...]:
        """The ``$parameters`` the query reads, e.g. ``("scope", "round")``."""
        return tuple(p for p in ("scope", "round") if f"${p}" in self.text)


def style_text() -> str:
    """Return the text of the ``fedprov.grass`` style file."""
    return (
        resources.files("fedprov.browser").joinpath("fedprov.grass").read_text("utf-8")
    )


def style_command() -> str:
    """Return the one-line ``:style`` command that applies ``fedprov.grass``."""
    return ":style " + " ".join(style_text().split())


def ready_queries() -> list[ReadyQuery]:
    """Return the ready queries of ``cypher/browser/``."""
    queries = []
    for name in READY_QUERY_NAMES:
        text = load_query(f"browser/{name}")
        comments = [
            line[2:].strip() for line in text.splitlines() if line.startswith("//")
        ]
        title = comments[0].removeprefix("Browser:").strip() if comments else name
        description = " ".join(comments[1:])
        queries.append(ReadyQuery(name, title, description, text))
    return queries


def param_commands(scope: str, server_round: int | None = None) -> list[str]:
    """Return the Browser ``:param`` commands that set ``$scope`` and ``$round``."""
    escaped = scope.replace("\\", "\\\\").replace('"', '\\"')
    commands = [f':param scope => "{escaped}"']
    if server_round is not None:
        commands.append(f":param round => {int(server_round)}")
    return commands


def browser_url(settings: Settings) -> str:
    """Return the Browser address with the Bolt address to connect to.

    With ``NEO4J_URI`` set, the Bolt address is that URI and the Browser is
    on its host at ``FEDPROV_NEO4J_HTTP_PORT``. Otherwise both ports come
    from the local server's state file (``fedprov services up``), falling
    back to ``FEDPROV_NEO4J_HTTP_PORT`` and ``FEDPROV_NEO4J_BOLT_PORT``.
    """
    if settings.neo4j_uri:
        parts = urlsplit(settings.neo4j_uri)
        host = parts.hostname or "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"  # an IPv6 address
        bolt = f"bolt://{host}:{parts.port or 7687}"
        return f"http://{host}:{settings.neo4j_http_port}/browser/?dbms={bolt}"
    state = read_state(settings).get("neo4j", {})
    http_port = state.get("http_port", settings.neo4j_http_port)
    bolt_port = state.get("bolt_port", settings.neo4j_bolt_port)
    return f"http://127.0.0.1:{http_port}/browser/?dbms=bolt://127.0.0.1:{bolt_port}"
