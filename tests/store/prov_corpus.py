"""The example documents shipped in the ``prov`` package's own test folder.

``tests/data/prov_corpus_losses.tsv`` lists, per file and step, what is known
not to round-trip, with the reason; tests mark those ``xfail(strict=True)``,
so a fixed loss shows up as a failing test and the table gets updated.
"""

from __future__ import annotations

from pathlib import Path

import prov

ROOT = Path(prov.__file__).parent / "tests"
LOSSES = Path(__file__).parents[1] / "data" / "prov_corpus_losses.tsv"

#: File suffix -> (prov format, reader options).
READERS: dict[str, tuple[str, dict[str, str]]] = {
    ".json": ("json", {}),
    ".jsonld": ("jsonld", {}),
    ".provn": ("provn", {}),
    ".ttl": ("rdf", {"rdf_format": "turtle"}),
    ".trig": ("rdf", {"rdf_format": "trig"}),
    ".rdf": ("rdf", {"rdf_format": "xml"}),
    ".xml": ("xml", {}),
    ".provx": ("xml", {}),
}


def corpus_files(malformed: bool = False) -> list[str]:
    """Return the corpus files (paths below ``ROOT``), sorted.

    ``malformed=True`` returns only the files of ``malformed/``, which are
    invalid on purpose.
    """
    files = []
    for path in sorted(ROOT.rglob("*")):
        if path.suffix not in READERS or not path.is_file():
            continue
        if ("malformed" in path.relative_to(ROOT).parts) == malformed:
            files.append(path.relative_to(ROOT).as_posix())
    return files


def known_losses() -> dict[tuple[str, str], str]:
    """Return ``{(file, step): reason}`` from the loss table."""
    losses = {}
    for line in LOSSES.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, step, reason = line.split("\t", 2)
        losses[(name, step)] = reason
    return losses
