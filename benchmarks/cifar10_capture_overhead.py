"""Capture overhead on the CIFAR-10 federation: plain against fedprov, interleaved.

Runs ``fedprov run cifar10`` with ``--no-provenance`` and with provenance
(capture, Neo4j writes, relational view and adjustment rules), with the same
seed. Each pair runs both, in alternating order (plain first in odd pairs),
so a slow drift of the machine's load does not favour one side. It prints
the seconds of each round and the ratio of the means over rounds 2 and
later, because round 1 also loads the data.

Beside wall time it reports figures that other load changes less. From
the run's summary: the seconds the ServerApp's thread spent in fedprov
(building records, waiting for the capture queue before the rules, running
the rules), which add to a round without overlapping anything; the capture
thread's CPU time in ``store.write``; and the CPU time of the writer
process that does the journal, Neo4j and view writes, of which the view's
updates are a part. From ``/proc``: the CPU time of each run's whole process
tree (the server, the writer, the Ray processes and the clients, sampled
every half second) and of the local Neo4j server during each run (only when
``fedprov services up`` started it).

Needs the services of ``fedprov services up`` (or NEO4J_*/MONGODB_URI) and
the data in FEDPROV_DATA_DIR::

    python benchmarks/cifar10_capture_overhead.py --rounds 4 --pairs 6
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from fedprov.services.state import read_state
from fedprov.settings import load_settings

ROUND_LINE = re.compile(r"^round (\d+)/\d+ .*\| ([0-9.]+) s \|", re.M)
WRITES_LINE = re.compile(
    r"^provenance writes: (\d+) fragments in (\d+) writes, ([0-9.]+) s "
    r"\(([0-9.]+) s CPU\)",
    re.M,
)
VIEW_LINE = re.compile(r"^relational view: (\d+) updates, ([0-9.]+) s CPU", re.M)
WRITER_LINE = re.compile(r"^writer process: (\d+) writes, ([0-9.]+) s CPU", re.M)
SERVER_LINE = re.compile(
    r"^server thread in fedprov: ([0-9.]+) s recording, ([0-9.]+) s waiting for "
    r"the capture queue, ([0-9.]+) s in adjustment rules",
    re.M,
)
FEDPROV = Path(sys.executable).parent / "fedprov"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class RunFigures:
    """Figures of one run of the federation."""

    rounds: list[float] = field(default_factory=list)
    fragments: int = 0
    writes: int = 0
    capture_cpu: float = 0.0
    view_updates: int = 0
    view_cpu: float = 0.0
    neo4j_cpu: float | None = None
    #: CPU seconds of the run's process and all its descendants.
    tree_cpu: float = 0.0
    #: CPU seconds of the child process that writes the records (start-up
    #: included).
    writer_cpu: float = 0.0
    #: Wall seconds the ServerApp's thread spent in the recorder, waiting for
    #: the capture queue, and in the adjustment rules (all rounds).
    record_seconds: float = 0.0
    flush_seconds: float = 0.0
    rule_seconds: float = 0.0


def process_cpu_seconds(pid: int) -> float | None:
    """Return user + system CPU seconds of process ``pid``, or None if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # Fields 14 and 15 of proc(5), counted from the state field (3).
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def neo4j_pid() -> int | None:
    """Return the PID of the Neo4j that ``fedprov services up`` started."""
    if os.environ.get("NEO4J_URI"):
        return None
    pid = read_state(load_settings()).get("neo4j", {}).get("pid")
    return int(pid) if pid else None


def run_sampled(command: list[str]) -> tuple[int, str, str, float]:
    """Run ``command`` and return its exit code, output, errors and tree CPU seconds.

    ``getrusage`` misses the Ray workers, which are not reaped by the run's
    process, so the CPU time of every descendant is read from ``/proc`` twice
    a second and the last reading of each process counts. A process loses at
    most the CPU time of its last half second, on both sides alike.
    """
    cpu_by_pid: dict[int, float] = {}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(  # noqa: S603 - fixed argument list
            command, stdout=out, stderr=err, text=True, env=os.environ.copy()
        )
        root = psutil.Process(process.pid)
        while process.poll() is None:
            try:
                members = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            for member in members:
                try:
                    times = member.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                cpu_by_pid[member.pid] = times.user + times.system
            time.sleep(0.5)
        process.wait()
        out.seek(0)
        err.seek(0)
        return process.returncode, out.read(), err.read(), sum(cpu_by_pid.values())


def run_once(provenance: bool, rounds: int, tag: str) -> RunFigures:
    """Run the federation once and return its figures."""
    command = [
        str(FEDPROV),
        "run",
        "cifar10",
        "--rounds",
        str(rounds),
        "--run-key",
        f"bench-overhead-{tag}-{int(time.time())}",
        "--provenance" if provenance else "--no-provenance",
    ]
    pid = neo4j_pid()
    neo4j_before = process_cpu_seconds(pid) if pid else None
    returncode, stdout, stderr, tree_cpu = run_sampled(command)
    neo4j_after = process_cpu_seconds(pid) if pid else None
    if returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr[-3000:]}")

    figures = RunFigures(
        rounds=[float(seconds) for _, seconds in ROUND_LINE.findall(stdout)],
        tree_cpu=tree_cpu,
    )
    writes = WRITES_LINE.search(stdout)
    if writes is not None:
        figures.fragments = int(writes.group(1))
        figures.writes = int(writes.group(2))
        figures.capture_cpu = float(writes.group(4))
    view = VIEW_LINE.search(stdout)
    if view is not None:
        figures.view_updates = int(view.group(1))
        figures.view_cpu = float(view.group(2))
    writer = WRITER_LINE.search(stdout)
    if writer is not None:
        figures.writer_cpu = float(writer.group(2))
    server = SERVER_LINE.search(stdout)
    if server is not None:
        figures.record_seconds = float(server.group(1))
        figures.flush_seconds = float(server.group(2))
        figures.rule_seconds = float(server.group(3))
    if neo4j_before is not None and neo4j_after is not None:
        figures.neo4j_cpu = neo4j_after - neo4j_before
    return figures


def _later_rounds(runs: list[RunFigures]) -> list[float]:
    return [seconds for run in runs for seconds in run.rounds[1:]]


def _interval(ratios: list[float]) -> str:
    """Return the geometric mean of ``ratios`` and two standard errors around it."""
    logs = [math.log(ratio) for ratio in ratios]
    mean = statistics.mean(logs)
    if len(logs) < 2:
        return f"{math.exp(mean):.3f} (one pair, no spread)"
    error = statistics.stdev(logs) / math.sqrt(len(logs))
    return (
        f"{math.exp(mean):.3f}, two standard errors {math.exp(mean - 2 * error):.3f}"
        f" to {math.exp(mean + 2 * error):.3f} ({len(logs)} pairs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds per run")
    parser.add_argument("--pairs", type=int, default=1, help="plain/fedprov pairs")
    parser.add_argument(
        "--first",
        choices=("plain", "fedprov"),
        default="plain",
        help="which run goes first in the first pair (then alternating)",
    )
    args = parser.parse_args()

    plain: list[RunFigures] = []
    captured: list[RunFigures] = []
    for pair in range(args.pairs):
        plain_first = (pair % 2 == 0) == (args.first == "plain")
        order = (False, True) if plain_first else (True, False)
        for provenance in order:
            tag = f"{'prov' if provenance else 'plain'}{pair}"
            (captured if provenance else plain).append(
                run_once(provenance, args.rounds, tag)
            )
        print(
            f"pair {pair + 1} ({'plain' if not order[0] else 'fedprov'} first): "
            f"plain {plain[-1].rounds}  fedprov {captured[-1].rounds}  CPU s "
            f"{plain[-1].tree_cpu:.1f} / {captured[-1].tree_cpu:.1f}",
            flush=True,
        )

    plain_mean = statistics.mean(_later_rounds(plain))
    captured_mean = statistics.mean(_later_rounds(captured))
    ratios = [
        statistics.mean(c.rounds[1:]) / statistics.mean(p.rounds[1:])
        for p, c in zip(plain, captured, strict=True)
    ]
    print(f"mean seconds per round (rounds 2..{args.rounds}):")
    print(f"  plain    {plain_mean:8.2f}")
    print(f"  fedprov  {captured_mean:8.2f}")
    print(f"  ratio    {captured_mean / plain_mean:8.3f}")
    print("  ratio per pair: " + ", ".join(f"{r:.3f}" for r in ratios))
    print(f"  geometric mean of the pair ratios: {_interval(ratios)}")
    by_order: dict[bool, list[float]] = {True: [], False: []}
    for pair, ratio in enumerate(ratios):
        by_order[(pair % 2 == 0) == (args.first == "plain")].append(ratio)
    if by_order[True] and by_order[False]:
        # The second run of a pair can be slower or faster whatever it runs,
        # so pairs of both orders weigh equally here.
        balanced = statistics.mean(
            [statistics.mean(by_order[True]), statistics.mean(by_order[False])]
        )
        print(f"  ratio with both orders weighed equally: {balanced:.3f}")

    tree_ratios = [
        c.tree_cpu / p.tree_cpu for p, c in zip(plain, captured, strict=True)
    ]
    print(
        "CPU seconds of a run's process tree (all rounds, start-up included): "
        f"plain {statistics.mean(run.tree_cpu for run in plain):.1f}, fedprov "
        f"{statistics.mean(run.tree_cpu for run in captured):.1f}"
    )
    print("  ratio per pair: " + ", ".join(f"{r:.3f}" for r in tree_ratios))
    print(f"  geometric mean of the pair ratios: {_interval(tree_ratios)}")

    rounds = args.rounds
    capture_cpu = statistics.mean(run.capture_cpu for run in captured) / rounds
    fragments = statistics.mean(run.fragments for run in captured) / rounds
    writes = statistics.mean(run.writes for run in captured) / rounds
    view_cpu = statistics.mean(run.view_cpu for run in captured) / rounds
    view_updates = statistics.mean(run.view_updates for run in captured) / rounds
    print(
        f"capture thread per round: {fragments:.1f} fragments in {writes:.1f} "
        f"writes, {capture_cpu:.2f} CPU s"
    )
    writer_cpu = statistics.mean(run.writer_cpu for run in captured) / rounds
    # The view updates run inside the writer process, so its figure
    # includes them.
    print(
        f"writer process per round: {writer_cpu:.2f} CPU s (start-up included), "
        f"relational view {view_updates:.1f} updates, {view_cpu:.2f} CPU s of it"
    )
    recording = statistics.mean(run.record_seconds for run in captured) / rounds
    flushing = statistics.mean(run.flush_seconds for run in captured) / rounds
    ruling = statistics.mean(run.rule_seconds for run in captured) / rounds
    serial = recording + flushing + ruling
    print(
        f"server thread in fedprov per round: {serial:.3f} s ({recording:.3f} s "
        f"recording, {flushing:.3f} s waiting for the capture queue, {ruling:.3f} s "
        f"in adjustment rules), {serial / plain_mean:.2%} of a plain later round"
    )
    neo4j_plain = [run.neo4j_cpu for run in plain if run.neo4j_cpu is not None]
    neo4j_captured = [run.neo4j_cpu for run in captured if run.neo4j_cpu is not None]
    if neo4j_plain and neo4j_captured:
        print(
            "local Neo4j CPU s per round: plain "
            f"{statistics.mean(neo4j_plain) / rounds:.2f}, fedprov "
            f"{statistics.mean(neo4j_captured) / rounds:.2f}"
        )


if __name__ == "__main__":
    main()
