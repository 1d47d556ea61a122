"""``fedprov run cifar10`` and ``fedprov split``: the CIFAR-10 federation.

``fedprov run cifar10`` runs the whole federation in this process with
Flower's simulation engine (Ray on 127.0.0.1). It records the run as PROV,
stores checkpoints and prints progress per round. The closing summary lists
accuracy per round, the run key, where the provenance went and how to query
it, and the path of a PNG plot of accuracy and loss. ``--resume RUN``
continues an unfinished run from its latest consistent checkpoint, with the
config it was started with.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

# Only light modules load at import time: every fedprov command imports this
# one, and torch, Flower and Ray take seconds to import.
from fedprov.apps.cifar10.config import AppConfig
from fedprov.apps.cifar10.data import resolve_batch_folder
from fedprov.apps.cifar10.partition import SCHEMES, class_counts
from fedprov.cli.console import stdout_console
from fedprov.errors import CheckpointError, ConfigurationError, FedProvError
from fedprov.settings import Settings, load_settings

if TYPE_CHECKING:
    from fedprov.apps.cifar10.federation import RoundOutcome
    from fedprov.apps.cifar10.server_app import ServerResult

__all__ = ["register"]

logger = logging.getLogger(__name__)


run_app = typer.Typer(help="Run a federation with provenance.", no_args_is_help=True)


def _stored_config(settings: Settings, run_key: str) -> AppConfig:
    """Return the config the run ``run_key`` was started with."""
    from fedprov.checkpoints import open_checkpoint_store

    store = open_checkpoint_store(settings)
    try:
        servers = store.servers(run_key)
    finally:
        store.close()
    if not servers:
        raise CheckpointError(
            f"run {run_key!r} has no server records in {store.describe()}; check the "
            "run key and MONGODB_URI (or FEDPROV_HOME for file checkpoints)"
        )
    try:
        stored = json.loads(servers[-1].config_json)
    except json.JSONDecodeError as err:
        raise CheckpointError(
            f"the stored config of run {run_key!r} is not valid JSON ({err})"
        ) from err
    return AppConfig.from_run_config(stored)


def _overrides(**options: Any) -> dict[str, Any]:
    return {name: value for name, value in options.items() if value is not None}


def _default_run_key() -> str:
    return time.strftime("cifar10-%Y%m%d-%H%M%S")


def _round_line(outcome: RoundOutcome, num_rounds: int) -> str:
    server = outcome.server_metrics
    checkpoint = getattr(outcome.checkpoint, "record_id", None)
    parts = [
        f"round {outcome.server_round}/{num_rounds}",
        f"accuracy {server.get('accuracy', float('nan')):.4f}",
        f"loss {server.get('loss', float('nan')):.4f}",
        f"{outcome.succeeded}/{outcome.sampled} clients",
        f"{outcome.seconds:.1f} s",
    ]
    if checkpoint:
        parts.append(f"checkpoint {checkpoint}")
    return " | ".join(parts)


def _neo4j_location(settings: Settings) -> tuple[str, str]:
    """Return the Bolt URI (no password) and the Neo4j Browser address."""
    from urllib.parse import urlsplit

    from fedprov.services.state import read_state

    if settings.neo4j_uri:
        uri = settings.neo4j_uri
        host = urlsplit(uri).hostname or "127.0.0.1"
        http_port = settings.neo4j_http_port
    else:
        neo4j_state = read_state(settings).get("neo4j", {})
        bolt_port = neo4j_state.get("bolt_port", settings.neo4j_bolt_port)
        uri = f"bolt://127.0.0.1:{bolt_port}"
        host = "127.0.0.1"
        http_port = int(neo4j_state.get("http_port", settings.neo4j_http_port))
    bolt = urlsplit(uri)
    safe_uri = f"{bolt.scheme}://{bolt.hostname}:{bolt.port}" if bolt.port else uri
    return safe_uri, f"http://{host}:{http_port}/browser/"


def _checkpoint_cell(checkpoint: Any) -> str:
    if checkpoint is None:
        return ""
    if checkpoint.consistent:
        return str(checkpoint.record_id)
    return f"{checkpoint.record_id} (inconsistent)"


def _summary(
    result: ServerResult,
    config: AppConfig,
    settings: Settings,
    plot: Path | None,
    wall_seconds: float,
) -> None:
    console = stdout_console()
    plan = result.plan
    run_key = plan.run_key if plan else config.run_key
    table = Table(title=f"CIFAR-10 federation {run_key}")
    for column in (
        "round",
        "central acc",
        "central loss",
        "client test acc",
        "train acc",
        "clients",
        "seconds",
        "checkpoint",
    ):
        table.add_column(column, justify="right" if column != "checkpoint" else "left")
    if result.initial_metrics:
        table.add_row(
            "0",
            f"{result.initial_metrics.get('accuracy', 0.0):.4f}",
            f"{result.initial_metrics.get('loss', 0.0):.4f}",
            "",
            "",
            "",
            "",
            "(initial model)",
        )
    for outcome in result.rounds:
        checkpoint = outcome.checkpoint
        table.add_row(
            str(outcome.server_round),
            f"{outcome.server_metrics.get('accuracy', float('nan')):.4f}",
            f"{outcome.server_metrics.get('loss', float('nan')):.4f}",
            f"{outcome.client_eval_metrics.get('accuracy', float('nan')):.4f}",
            f"{outcome.train_metrics.get('accuracy', float('nan')):.4f}",
            f"{outcome.succeeded}/{outcome.sampled}",
            f"{outcome.seconds:.1f}",
            _checkpoint_cell(checkpoint),
        )
    console.print(table)

    console.print(f"run key: [bold]{run_key}[/bold]", highlight=False)
    if plan is not None:
        resumed = (
            f", resumed from {plan.resume_from.record_id}" if plan.resume_from else ""
        )
        console.print(
            f"server id: {plan.server_id} (rounds {plan.first_round}..{plan.num_rounds}"
            f"{resumed})",
            highlight=False,
        )
    console.print(f"wall time: {wall_seconds:.1f} s", highlight=False)
    console.print(f"checkpoints: {result.checkpoint_store}", highlight=False)
    if config.provenance:
        from fedprov.store.journal import Journal

        uri, browser = _neo4j_location(settings)
        journal = Journal(settings.journal_dir).path(run_key)
        console.print(f"provenance: Neo4j {uri}, journal {journal}", highlight=False)
        stats = result.capture
        if stats is not None:
            console.print(
                f"provenance writes: {stats.written} fragments in {stats.writes} "
                f"writes, {stats.write_seconds:.2f} s "
                f"({stats.write_cpu_seconds:.2f} s CPU) on the capture thread",
                highlight=False,
            )
        writer = result.writer
        if writer is not None and writer.stats.view_updates:
            console.print(
                f"relational view: {writer.stats.view_updates} updates, "
                f"{writer.stats.view_cpu_seconds:.2f} s CPU",
                highlight=False,
            )
        if writer is not None:
            console.print(
                f"writer process: {writer.stats.writes} writes, "
                f"{writer.stats.cpu_seconds:.2f} s CPU (pid {writer.pid})",
                highlight=False,
            )
        if result.recording is not None:
            # Time the rounds wait for fedprov on the server's thread, as
            # opposed to the writer process's writes, which overlap training.
            rules = result.rules
            flush_seconds = rules.flush_seconds if rules is not None else 0.0
            rule_seconds = rules.rule_seconds if rules is not None else 0.0
            console.print(
                f"server thread in fedprov: {result.recording.record_seconds:.2f} s "
                f"recording, {flush_seconds:.2f} s waiting for the capture queue, "
                f"{rule_seconds:.2f} s in adjustment rules",
                highlight=False,
            )
        console.print(
            "query it in Cypher, e.g.\n"
            f"  MATCH (m:GlobalModel {{scope: '{run_key}'}}) "
            "RETURN m.`fl:round`, m.`fl:sha256` ORDER BY m.`fl:round`",
            highlight=False,
            markup=False,
        )
        console.print(
            f"export it: fedprov export {run_key} --format json -o run.json",
            highlight=False,
        )
        console.print(f"Neo4j Browser: {browser}", highlight=False)
    if plot is not None:
        console.print(f"plot: {plot}", highlight=False)


@run_app.command("cifar10")
def run_cifar10(
    rounds: int | None = typer.Option(None, "--rounds", help="Rounds to run (3)."),
    clients: int | None = typer.Option(
        None, "--clients", help="Simulated clients (5)."
    ),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Folder with cifar-10-batches-py/ (FEDPROV_DATA_DIR)."
    ),
    checkpoint_every: int | None = typer.Option(
        None,
        "--checkpoint-every",
        help="Store the global model every K rounds; 0: never (1).",
    ),
    model: str | None = typer.Option(None, "--model", help="cnn or mobilenetv2 (cnn)."),
    lr: float | None = typer.Option(None, "--lr", help="SGD learning rate (0.01)."),
    momentum: float | None = typer.Option(
        None, "--momentum", help="SGD momentum (0.9)."
    ),
    batch_size: int | None = typer.Option(
        None, "--batch-size", help="Images per step (32)."
    ),
    local_epochs: int | None = typer.Option(
        None, "--local-epochs", help="Local epochs per round (1)."
    ),
    validation_split: float | None = typer.Option(
        None,
        "--validation-split",
        help="Held-out fraction of each client's data (0.1).",
    ),
    partition: str | None = typer.Option(
        None, "--partition", help=f"Partition scheme: {', '.join(SCHEMES)} (balanced)."
    ),
    alpha: float | None = typer.Option(None, "--alpha", help="Dirichlet alpha (0.5)."),
    seed: int | None = typer.Option(
        None, "--seed", help="Seed of split, weights, order (42)."
    ),
    run_key: str | None = typer.Option(
        None, "--run-key", help="Run key of the records (default: cifar10-<date-time>)."
    ),
    resume: str | None = typer.Option(
        None,
        "--resume",
        metavar="RUN",
        help="Continue the unfinished run RUN from its latest consistent checkpoint.",
    ),
    recover: bool | None = typer.Option(
        None,
        "--recover-from-checkpoint/--no-recover-from-checkpoint",
        help="Clients that missed rounds train from the latest consistent checkpoint.",
    ),
    skip_partition: int | None = typer.Option(
        None,
        "--skip-partition",
        help="Partition that fails its training in --skip-rounds.",
    ),
    skip_rounds: str | None = typer.Option(
        None,
        "--skip-rounds",
        help="Comma-separated rounds in which it fails, e.g. 2,3.",
    ),
    provenance: bool = typer.Option(
        True, "--provenance/--no-provenance", help="Record the run in Neo4j."
    ),
    rules: bool | None = typer.Option(
        None,
        "--rules/--no-rules",
        help="Run the enabled adjustment rules after each round (default: on).",
    ),
    download: bool = typer.Option(
        False, "--download", help="Download CIFAR-10 with torchvision if it is missing."
    ),
    num_cpus: int = typer.Option(
        2, "--num-cpus", help="CPUs Ray may use (one per client)."
    ),
    plot: Path | None = typer.Option(
        None,
        "--plot",
        help="PNG of accuracy and loss (default FEDPROV_HOME/runs/<key>.png).",
    ),
    verbose_flower: bool = typer.Option(
        False, "--flower-logs", help="Show Flower's and Ray's own log lines."
    ),
) -> None:
    """Run the CIFAR-10 federation with provenance, checkpoints and a summary."""
    console = stdout_console()
    settings = load_settings()
    changes = _overrides(
        num_server_rounds=rounds,
        num_clients=clients,
        data_dir=str(data_dir) if data_dir is not None else None,
        checkpoint_every=checkpoint_every,
        model=model,
        lr=lr,
        momentum=momentum,
        batch_size=batch_size,
        local_epochs=local_epochs,
        validation_split=validation_split,
        partition=partition,
        dirichlet_alpha=alpha,
        seed=seed,
        recover_from_checkpoint=recover,
        skip_partition=skip_partition,
        skip_rounds=skip_rounds,
        adjustment_rules=rules,
    )
    if resume is not None:
        if run_key is not None and run_key != resume:
            raise ConfigurationError(
                f"--run-key {run_key!r} and --resume {resume!r} differ; a resumed run "
                "keeps its run key, so pass only --resume"
            )
        config = _stored_config(settings, resume).replace(
            run_key=resume,
            resume=True,
            provenance=provenance,
            download=download,
            **changes,
        )
    else:
        config = AppConfig(
            run_key=run_key or _default_run_key(),
            provenance=provenance,
            download=download,
            **changes,
        )

    # A missing data folder fails here, before Ray starts, with the folder
    # and the expected files in the message.
    if not config.download:
        resolve_batch_folder(
            Path(config.data_dir) if config.data_dir else settings.data_dir
        )

    if not verbose_flower:
        # The progress lines below replace Flower's per-phase log lines and
        # fedprov's INFO lines (still shown with fedprov -v).
        for name, level in (
            ("flwr", logging.ERROR),
            ("alembic", logging.WARNING),
            ("neo4j", logging.WARNING),
        ):
            logging.getLogger(name).setLevel(level)
        fedprov_logger = logging.getLogger("fedprov")
        if fedprov_logger.getEffectiveLevel() > logging.DEBUG:
            fedprov_logger.setLevel(logging.WARNING)
    console.print(
        f"CIFAR-10 federation [bold]{config.run_key}[/bold]: {config.num_clients} "
        f"clients, {config.num_server_rounds} rounds, model {config.model}, "
        f"partition {config.partition}" + (" (resuming)" if config.resume else ""),
        highlight=False,
    )

    from fedprov.apps.cifar10.simulation import run_federation

    def on_round(outcome: RoundOutcome) -> None:
        console.print(_round_line(outcome, config.num_server_rounds), highlight=False)

    started = time.perf_counter()
    with console.status("running the federation (Ray start-up takes a few seconds)"):
        result = run_federation(
            config, num_cpus=num_cpus, on_round=on_round, verbose=verbose_flower
        )
    wall = time.perf_counter() - started
    if not result.completed:
        raise FedProvError(
            f"the federation {config.run_key!r} did not complete; see the log above "
            f"and resume it with 'fedprov run cifar10 --resume {config.run_key}'"
        )

    plot_path = plot or settings.home / "runs" / f"{config.run_key}.png"
    from fedprov.apps.cifar10.plots import plot_rounds

    plot_rounds(
        result.rounds,
        plot_path,
        title=f"CIFAR-10 {config.run_key}",
        initial=result.initial_metrics,
    )
    _summary(result, config, settings, plot_path, wall)


def split(
    clients: int = typer.Option(5, "--clients", help="Number of clients."),
    scheme: str = typer.Option(
        "balanced", "--scheme", help=f"Partition scheme: {', '.join(SCHEMES)}."
    ),
    alpha: float = typer.Option(
        0.5, "--alpha", help="Dirichlet alpha (dirichlet only)."
    ),
    seed: int = typer.Option(42, "--seed", help="Seed of the split."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Folder with cifar-10-batches-py/ (FEDPROV_DATA_DIR)."
    ),
    plot: Path | None = typer.Option(
        None, "--plot", help="Save a PNG bar plot of the training counts here."
    ),
) -> None:
    """Print the images per class of each client's training and test partition."""
    console = stdout_console()
    from fedprov.apps.cifar10.data import CLASS_NAMES, load_cifar10
    from fedprov.apps.cifar10.partition import partition_train_test

    if scheme not in SCHEMES:
        raise ConfigurationError(
            f"--scheme {scheme!r} is unknown; choose one of {', '.join(SCHEMES)}"
        )
    data = load_cifar10(data_dir or load_settings().data_dir)
    train_parts, test_parts = partition_train_test(
        data.y_train, data.y_test, clients, scheme, seed=seed, alpha=alpha
    )
    train_counts = class_counts(data.y_train, train_parts)
    test_counts = class_counts(data.y_test, test_parts)

    title = f"{scheme} split of {data.folder} into {clients} clients (seed {seed})"
    if scheme == "dirichlet":
        title += f", alpha {alpha}"
    table = Table(title=title)
    table.add_column("client", justify="right")
    for name in CLASS_NAMES:
        table.add_column(name, justify="right")
    table.add_column("train", justify="right", style="bold")
    table.add_column("test", justify="right", style="bold")
    for client in range(clients):
        table.add_row(
            str(client),
            *(str(int(n)) for n in train_counts[client]),
            str(int(train_counts[client].sum())),
            str(int(test_counts[client].sum())),
        )
    console.print(table)
    if plot is not None:
        from fedprov.apps.cifar10.plots import plot_partition

        plot_partition(train_counts, plot, title=title)
        console.print(f"plot: {plot}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``fedprov run cifar10`` and ``fedprov split`` to the CLI."""
    app.add_typer(run_app, name="run")
    app.command("split")(split)
