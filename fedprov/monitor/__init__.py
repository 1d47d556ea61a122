"""``fedprov monitor``: a live dashboard of runs, read from the view and the graph.

:class:`~fedprov.monitor.reader.MonitorReader` reads the stores,
:mod:`fedprov.monitor.panels` shapes the rows each panel draws,
:mod:`fedprov.monitor.page` is the Streamlit page, and
:class:`~fedprov.monitor.server.MonitorServer` starts and stops the
Streamlit server on 127.0.0.1.
"""

from __future__ import annotations

from fedprov.monitor.reader import MonitorReader, Problem, RunList, RunSummary, Snapshot
from fedprov.monitor.server import MonitorServer, streamlit_command

__all__ = [
    "MonitorReader",
    "MonitorServer",
    "Problem",
    "RunList",
    "RunSummary",
    "Snapshot",
    "streamlit_command",
]
