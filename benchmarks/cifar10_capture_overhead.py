"""Capture overhead on the CIFAR-10 federation: plain against fedprov, interleaved.

Runs ``fedprov run cifar10`` with ``--no-provenance`` and with provenance
(capture, Neo4j writes, relational view, adjustment rules) in alternation,
with the same seed. It prints the seconds of each round and the ratio of the
means over rounds 2 and later, because round 1 also loads the data.

Needs the services of ``fedprov services up`` (or NEO4J_*/MONGODB_URI) and
the data in FEDPROV_DATA_DIR::

    python benchmarks/cifar10_capture_overhead.py --rounds 3 --pairs 1
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROUND_LINE = re.compile(r"^round (\d+)/\d+ .*\| ([0-9.]+) s \|", re.M)
FEDPROV = Path(sys.executable).parent / "fedprov"


def run_once(provenance: bool, rounds: int, tag: str) -> list[float]:
    """Run the federation once and return the seconds of each round."""
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
    result = subprocess.run(
        command, capture_output=True, text=True, check=False, env=os.environ.copy()
    )
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return [float(seconds) for _, seconds in ROUND_LINE.findall(result.stdout)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds per run")
    parser.add_argument("--pairs", type=int, default=1, help="plain/fedprov pairs")
    args = parser.parse_args()

    plain: list[list[float]] = []
    captured: list[list[float]] = []
    for pair in range(args.pairs):
        plain.append(run_once(False, args.rounds, f"plain{pair}"))
        captured.append(run_once(True, args.rounds, f"prov{pair}"))
        print(f"pair {pair + 1}: plain {plain[-1]}  fedprov {captured[-1]}")

    def later_rounds(runs: list[list[float]]) -> list[float]:
        return [seconds for run in runs for seconds in run[1:]]

    plain_mean = statistics.mean(later_rounds(plain))
    captured_mean = statistics.mean(later_rounds(captured))
    print(f"mean seconds per round (rounds 2..{args.rounds}):")
    print(f"  plain    {plain_mean:8.2f}")
    print(f"  fedprov  {captured_mean:8.2f}")
    print(f"  ratio    {captured_mean / plain_mean:8.3f}")


if __name__ == "__main__":
    main()
