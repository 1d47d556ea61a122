"""The relational view: Flower-PROV's DfAnalyzer tables, built from the records.

The tables (``fedprov.relational.schema``) contain the values of a run's
PROV records, in DuckDB (default, ``<FEDPROV_HOME>/view.duckdb``) or MonetDB
(``FEDPROV_MONETDB_URL``). They are filled only from the captured records:
document by document as capture writes them (:class:`ViewingStore`,
:meth:`ViewMaterializer.apply`) or from the graph
(:meth:`ViewMaterializer.rebuild`); :func:`check_consistency` compares the
two. Typical use::

    view = open_view(settings)
    store = ViewingStore(inner_store, ViewMaterializer(view))
    ...
    view.query("SELECT server_round, accuracy FROM oServerTrainingAggregation")
"""

from __future__ import annotations

from fedprov.relational.consistency import (
    ConsistencyReport,
    Difference,
    check_consistency,
)
from fedprov.relational.materialize import ViewingStore, ViewMaterializer
from fedprov.relational.schema import TABLES
from fedprov.relational.view import QueryResult, RelationalView, open_view

__all__ = [
    "TABLES",
    "ConsistencyReport",
    "Difference",
    "QueryResult",
    "RelationalView",
    "ViewMaterializer",
    "ViewingStore",
    "check_consistency",
    "open_view",
]
