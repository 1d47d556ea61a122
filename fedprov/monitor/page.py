"""The Streamlit page of ``fedprov monitor``.

The sidebar lists the runs and refreshes every :data:`RUNS_REFRESH`
seconds. The chosen run's panels are a fragment that reruns every
``--refresh`` seconds (default 2), so the page follows a run without a
reload. The address keeps the chosen run as ``?run=<run key>``.

All data comes from one cached :class:`~fedprov.monitor.reader.MonitorReader`
that the browser sessions share. The panel rows come from
:mod:`fedprov.monitor.panels`.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import altair as alt
import streamlit as st

from fedprov.monitor import panels
from fedprov.monitor.reader import MonitorReader, Problem, RunList, Snapshot
from fedprov.settings import Settings, load_settings

__all__ = ["RUNS_REFRESH", "main", "parse_options"]

#: Seconds between two refreshes of the run list.
RUNS_REFRESH = 5.0

_START_HINT = (
    "Start one with `bash scripts/run-cifar10.sh` or `fedprov run cifar10`; "
    "this page picks it up on its own."
)


def parse_options(argv: Sequence[str]) -> argparse.Namespace:
    """Parse the script arguments that ``fedprov monitor`` passes after ``--``.

    Unknown arguments are ignored, because Streamlit's test runner leaves the
    test command's own arguments in ``sys.argv``.
    """
    parser = argparse.ArgumentParser(prog="fedprov monitor page")
    parser.add_argument("--run", default=None, help="run key to show first")
    parser.add_argument(
        "--refresh", type=float, default=2.0, help="seconds between two refreshes"
    )
    parser.add_argument(
        "--view", type=Path, default=None, help="DuckDB file of the relational view"
    )
    parser.add_argument("--no-graph", action="store_true", help="do not read Neo4j")
    options, _unknown = parser.parse_known_args(list(argv))
    return options


@st.cache_resource(show_spinner=False)
def _reader(settings: Settings, view: Path | None, graph: bool) -> MonitorReader:
    return MonitorReader(settings, view_path=view, graph=graph)


def _time(value: dt.datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _problems(problems: Sequence[Problem], *, graph_optional: bool = True) -> None:
    for problem in problems:
        if problem.missing:
            st.caption(f"The relational view does not exist yet: {problem.message}.")
        elif problem.source == "view":
            st.warning(
                f"**The relational view cannot be read**: {problem.message}. "
                "Retrying at the next refresh.",
                icon="⚠️",
            )
        else:
            extra = (
                " Server-side evaluation, failure reasons and rule reasons are "
                "missing until it is back."
                if graph_optional
                else ""
            )
            st.warning(
                f"**The graph (Neo4j) cannot be read**: {problem.message}.{extra} "
                "Retrying at the next refresh.",
                icon="⚠️",
            )


# -- the run list ---------------------------------------------------------------


def _default_run(runs: RunList) -> str | None:
    for run in runs.runs:
        if run.status == "running":
            return run.run_key
    return runs.runs[0].run_key if runs.runs else None


def _run_list(reader: MonitorReader) -> None:
    runs = reader.list_runs(max_age=RUNS_REFRESH / 2)
    st.header("Runs")
    if not runs.runs:
        failed = {p.source for p in runs.problems if not p.missing}
        if "view" in failed and ("graph" in failed or not reader.use_graph):
            st.error(
                "**No database can be read**, so no run can be shown. "
                "Check that the relational view and Neo4j are reachable "
                "(`fedprov services status`)."
            )
            _problems(runs.problems, graph_optional=False)
        else:
            st.info(f"**No run yet.** {_START_HINT}")
            if runs.problems:
                _problems(runs.problems, graph_optional=False)
        return

    current = st.session_state.get("run")
    keys = [run.run_key for run in runs.runs]
    if current and current not in keys:
        keys.insert(0, current)
    selected = current or _default_run(runs)
    by_key = {run.run_key: run for run in runs.runs}

    def label(key: str) -> str:
        run = by_key.get(key)
        return f"{key} · {run.label}" if run else f"{key} · not found yet"

    choice = st.selectbox(
        "Run",
        keys,
        index=keys.index(selected) if selected in keys else 0,
        format_func=label,
    )
    st.dataframe(
        [
            {
                "run": run.run_key,
                "status": run.label,
                "rounds": f"{run.rounds_done or 0}/{run.num_rounds or '?'}",
            }
            for run in runs.runs
        ],
        hide_index=True,
        width="stretch",
    )
    st.caption(f"Relational view: {runs.view}")
    if runs.problems:
        _problems(runs.problems)
    if choice != current:
        st.session_state["run"] = choice
        st.query_params["run"] = choice
        st.rerun(scope="app")


# -- one run --------------------------------------------------------------------


def _data(values: list[dict[str, Any]]) -> alt.Data:
    return alt.Data(values=values)  # type: ignore[no-untyped-call]


def _axis_round() -> alt.X:
    return alt.X("round:Q", title="round", axis=alt.Axis(tickMinStep=1, format="d"))


def _metric_chart(
    rows: list[dict[str, Any]], field: str, firings: list[dict[str, Any]]
) -> None:
    data = [
        {
            "round": r["round"],
            "series": r["series"],
            "server": r["server"],
            field: r[field],
        }
        for r in rows
        if r[field] is not None
    ]
    if not data:
        st.caption(f"No {field} recorded yet.")
        return
    lines = (
        alt.Chart(_data(data))
        .mark_line(point=True)
        .encode(
            x=_axis_round(),
            y=alt.Y(f"{field}:Q", title=field),
            color=alt.Color("series:N", sort=list(panels.SERIES), title=None),
            tooltip=[
                "round:Q",
                "series:N",
                "server:Q",
                alt.Tooltip(f"{field}:Q", format=".4f"),
            ],
        )
    )
    chart: Any = lines
    if firings:
        marks = [
            {
                "round": f["round"],
                "rule": f["rule"],
                "change": f"{f['hyperparameter']} {f['before']} → {f['after']}",
                "reason": f["reason"],
            }
            for f in firings
        ]
        rules = (
            alt.Chart(_data(marks))
            .mark_rule(strokeDash=[4, 3], color="#d62728")
            .encode(x="round:Q", tooltip=["round:Q", "rule:N", "change:N", "reason:N"])
        )
        chart = lines + rules
    st.altair_chart(chart.properties(height=280), width="stretch")


def _client_segments(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the trained points, numbered so that a gap starts a new segment."""
    points: list[dict[str, Any]] = []
    segment: dict[str, int] = {}
    for row in sorted(rows, key=lambda r: (r["client"], r["server"], r["round"])):
        label = panels.client_label(row)
        if row["status"] != panels.TRAINED or row["accuracy"] is None:
            segment[label] = segment.get(label, 0) + 1
            continue
        points.append(
            {
                "round": row["round"],
                "client": label,
                "segment": f"{label}/{segment.get(label, 0)}",
                "accuracy": row["accuracy"],
            }
        )
    return points


def _client_chart(rows: list[dict[str, Any]]) -> None:
    # A round without a result ends the client's line; the next starts anew.
    data = _client_segments(rows)
    absent = [
        {
            "round": r["round"],
            "client": panels.client_label(r),
            "status": r["status"],
            "note": r["note"] or r["status"],
        }
        for r in rows
        if r["status"] in (panels.FAILED, panels.MISSING)
    ]
    if not data and not absent:
        return
    chart: Any = (
        alt.Chart(_data(data))
        .mark_line(point=True)
        .encode(
            x=_axis_round(),
            y=alt.Y("accuracy:Q", title="client training accuracy"),
            color=alt.Color("client:N", title=None),
            detail="segment:N",
            tooltip=["round:Q", "client:N", alt.Tooltip("accuracy:Q", format=".4f")],
        )
    )
    if absent:
        crosses = (
            alt.Chart(_data(absent))
            .mark_point(shape="cross", size=140, color="#d62728", filled=True)
            .encode(
                x="round:Q",
                y=alt.datum(0),
                tooltip=["round:Q", "client:N", "status:N", "note:N"],
            )
        )
        chart = chart + crosses
    st.altair_chart(chart.properties(height=260), width="stretch")
    if absent:
        st.caption(
            "Red crosses on the round axis: clients that failed or were missing."
        )


def _timing_chart(rows: list[dict[str, Any]]) -> None:
    data = []
    for row in rows:
        for part in ("training seconds", "evaluation seconds", "checkpoint seconds"):
            if row[part] is not None:
                data.append(
                    {
                        "round": row["round"],
                        "part": part.split()[0],
                        "seconds": row[part],
                    }
                )
    if not data:
        return
    chart = (
        alt.Chart(_data(data))
        .mark_bar()
        .encode(
            x=alt.X("round:O", title="round", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("seconds:Q", title="seconds", stack=True),
            color=alt.Color("part:N", title=None),
            tooltip=["round:O", "part:N", alt.Tooltip("seconds:Q", format=".2f")],
        )
        .properties(height=240)
    )
    st.altair_chart(chart, width="stretch")


def _source_caption(snapshot: Snapshot, refresh: float) -> str:
    source = (
        "the relational view"
        if snapshot.source == "view"
        else "rows built from the graph (the relational view has no rows for this run)"
    )
    graph = " and the graph" if snapshot.graph else ""
    return (
        f"Read {_time(snapshot.read_at)} from {source}{graph}; "
        f"refreshes every {refresh:g} s."
    )


def _run_panels(reader: MonitorReader, refresh: float) -> None:
    run_key = st.session_state.get("run")
    if not run_key:
        st.info(
            "**No run chosen.** Pick one in the sidebar, or wait for a run. "
            + _START_HINT
        )
        return

    snapshot = reader.snapshot(run_key, max_age=refresh / 2)
    st.subheader(f"Run {run_key}")
    st.caption(_source_caption(snapshot, refresh))
    _problems(snapshot.problems)
    if snapshot.empty:
        if len(snapshot.problems) < 2:
            st.info(f"**No records for run {run_key!r} yet.** {_START_HINT}")
        return

    head = panels.headline(snapshot)
    columns = st.columns(6)
    columns[0].metric("Status", head.status)
    columns[1].metric("Round", head.round_text)
    columns[2].metric(
        "Server-side accuracy",
        "-" if head.server_accuracy is None else f"{head.server_accuracy:.4f}",
    )
    columns[3].metric(
        "Training accuracy",
        "-" if head.training_accuracy is None else f"{head.training_accuracy:.4f}",
    )
    columns[4].metric("Clients in last round", head.clients_text)
    columns[5].metric(
        "Last record (UTC)",
        head.last_record.strftime("%H:%M:%S") if head.last_record else "-",
        help=_time(head.last_record),
    )

    metrics = panels.global_metric_rows(snapshot)
    firings = panels.rule_firing_rows(snapshot)
    st.markdown("#### Global accuracy and loss per round")
    left, right = st.columns(2)
    with left:
        _metric_chart(metrics, "accuracy", firings)
    with right:
        _metric_chart(metrics, "loss", firings)
    if firings:
        st.caption("Dashed red lines: rounds whose training config a rule changed.")

    st.markdown("#### Clients per round")
    clients = panels.client_rows(snapshot)
    _client_chart(clients)
    if clients:
        st.dataframe(panels.client_matrix(clients), hide_index=True, width="stretch")
        failures = panels.failure_rows(snapshot, clients)
        if failures:
            st.markdown("Failed or missing clients")
            st.table(failures)
        with st.expander("Every client result"):
            st.dataframe(clients, hide_index=True, width="stretch")
    else:
        st.caption("No client has reported yet.")

    st.markdown("#### Training config per round")
    configs = panels.config_rows(snapshot)
    if configs:
        for row in configs:
            row["adjusted"] = "⚙ rule" if row["adjusted"] else ""
        st.dataframe(configs, hide_index=True, width="stretch")
    else:
        st.caption("No training config recorded yet.")
    if firings:
        st.markdown("Rule firings")
        st.table(firings)

    left, right = st.columns(2)
    with left:
        st.markdown("#### Checkpoints")
        checkpoints = panels.checkpoint_rows(snapshot)
        if checkpoints:
            st.dataframe(checkpoints, hide_index=True, width="stretch")
        else:
            st.caption("No checkpoint stored yet.")
    with right:
        st.markdown("#### Time per round")
        timings = panels.timing_rows(snapshot)
        _timing_chart(timings)
        if timings:
            st.dataframe(timings, hide_index=True, width="stretch")


def main(argv: Sequence[str]) -> None:
    """Draw the dashboard; Streamlit calls this on every rerun."""
    options = parse_options(argv)
    st.set_page_config(page_title="fedprov monitor", layout="wide")
    reader = _reader(load_settings(), options.view, not options.no_graph)

    if "run" not in st.session_state:
        st.session_state["run"] = st.query_params.get("run") or options.run

    st.title("fedprov monitor")
    with st.sidebar:
        st.fragment(run_every=RUNS_REFRESH)(_run_list)(reader)
    st.fragment(run_every=options.refresh)(_run_panels)(reader, options.refresh)
