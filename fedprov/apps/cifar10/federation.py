"""The server's round loop, with checkpoints and a start round for resumption.

:func:`run_rounds` follows ``flwr.serverapp.strategy.Strategy.start`` of
Flower 1.42 (train, aggregate, evaluate on clients, evaluate centrally) but
can begin at any round, so a resumed server continues the numbering of the
run it resumes. After each aggregation it calls ``after_aggregate``, which
stores the checkpoint of that round's model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg, Strategy

from fedprov.capture.digest import arrays_sha256
from fedprov.capture.values import canonical_json

__all__ = ["OrderedFedAvg", "RoundOutcome", "run_rounds"]

logger = logging.getLogger(__name__)


@dataclass
class RoundOutcome:
    """Outcome of one round, as the round loop observed it."""

    server_round: int
    #: Nodes sampled for training, and how many replied without error.
    sampled: int
    succeeded: int
    #: The global model after this round (the previous one when every client failed).
    arrays: ArrayRecord
    #: Whether aggregation produced a new model this round.
    aggregated: bool
    train_metrics: dict[str, Any] = field(default_factory=dict)
    client_eval_metrics: dict[str, Any] = field(default_factory=dict)
    server_metrics: dict[str, Any] = field(default_factory=dict)
    #: The train replies (errors included), for hooks that read extra records.
    train_replies: list[Message] = field(default_factory=list)
    #: What ``after_aggregate`` returned (the checkpoint, when one was stored).
    checkpoint: Any = None
    seconds: float = 0.0


def _reply_order(reply: Message) -> tuple[int, str]:
    if reply.has_error():
        return (1, "")
    arrays = list(reply.content.array_records.values())
    if len(arrays) == 1:
        return (0, arrays_sha256(arrays[0]))
    metrics = {
        key: dict(record) for key, record in reply.content.metric_records.items()
    }
    return (0, canonical_json(metrics))


class OrderedFedAvg(FedAvg):
    """FedAvg that aggregates the replies in an order fixed by their content.

    Replies arrive in completion order, which varies between runs, and
    floating-point sums depend on the order of their terms. Sorting the
    replies (by update digest, or by metrics for evaluation) makes the
    aggregate, and so the whole run, repeat exactly for a seed.
    """

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Aggregate the sorted replies as FedAvg does."""
        return super().aggregate_train(server_round, sorted(replies, key=_reply_order))

    def aggregate_evaluate(
        self, server_round: int, replies: Iterable[Message]
    ) -> MetricRecord | None:
        """Aggregate the sorted evaluation replies as FedAvg does."""
        return super().aggregate_evaluate(
            server_round, sorted(replies, key=_reply_order)
        )


AfterAggregate = Callable[[RoundOutcome], Any]
EvaluateFn = Callable[[int, ArrayRecord], MetricRecord | None]


def _as_dict(record: MetricRecord | None) -> dict[str, Any]:
    return {} if record is None else dict(record)


def run_rounds(
    strategy: Strategy,
    grid: Grid,
    *,
    arrays: ArrayRecord,
    first_round: int,
    num_rounds: int,
    timeout: float,
    train_config: ConfigRecord,
    evaluate_config: ConfigRecord,
    evaluate_fn: EvaluateFn | None = None,
    after_aggregate: AfterAggregate | None = None,
    on_round: Callable[[RoundOutcome], None] | None = None,
    stop_requested: Callable[[], str | None] | None = None,
) -> list[RoundOutcome]:
    """Run rounds ``first_round .. num_rounds`` and return their outcomes.

    Parameters
    ----------
    strategy : Strategy
        Any Flower message-API strategy (its ``configure_*`` and
        ``aggregate_*`` methods are called with the true round number).
    grid : Grid
        The grid the ServerApp received.
    arrays : ArrayRecord
        Global model before ``first_round``: the initial model, or the
        checkpoint a resumed server loaded.
    first_round, num_rounds : int
        Round numbers to run, inclusive, counted from 1.
    timeout : float
        Seconds to wait for the replies of one phase.
    train_config, evaluate_config : ConfigRecord
        Sent to the clients; the strategy adds ``server-round``.
    evaluate_fn : callable, optional
        Central evaluation ``(round, arrays) -> MetricRecord``; called for
        round 0 when ``first_round`` is 1, and after every round.
    after_aggregate : callable, optional
        Called with the round's outcome right after aggregation, before
        evaluation; its return value is kept as ``outcome.checkpoint``.
    on_round : callable, optional
        Called with each finished round's outcome (progress display).
    stop_requested : callable, optional
        Checked after each round is configured and before its messages are
        sent; a returned reason ends the run there (an adjustment rule
        asked to stop).
    """
    if evaluate_fn is not None and first_round == 1:
        initial = evaluate_fn(0, arrays)
        logger.info("initial global evaluation: %s", initial)

    outcomes: list[RoundOutcome] = []
    for server_round in range(first_round, num_rounds + 1):
        started = time.perf_counter()
        logger.info("round %d/%d: training", server_round, num_rounds)
        messages = list(
            strategy.configure_train(server_round, arrays, train_config, grid)
        )
        reason = stop_requested() if stop_requested is not None else None
        if reason is not None:
            logger.info(
                "round %d/%d: not run, stop requested: %s",
                server_round,
                num_rounds,
                reason,
            )
            break
        replies = list(grid.send_and_receive(messages=messages, timeout=timeout))
        new_arrays, train_metrics = strategy.aggregate_train(server_round, replies)
        outcome = RoundOutcome(
            server_round=server_round,
            sampled=len(messages),
            succeeded=sum(1 for reply in replies if not reply.has_error()),
            arrays=new_arrays if new_arrays is not None else arrays,
            aggregated=new_arrays is not None,
            train_metrics=_as_dict(train_metrics),
            train_replies=replies,
        )
        arrays = outcome.arrays
        if after_aggregate is not None:
            outcome.checkpoint = after_aggregate(outcome)

        logger.info("round %d/%d: evaluation", server_round, num_rounds)
        eval_messages = strategy.configure_evaluate(
            server_round, arrays, evaluate_config, grid
        )
        eval_replies = grid.send_and_receive(messages=eval_messages, timeout=timeout)
        outcome.client_eval_metrics = _as_dict(
            strategy.aggregate_evaluate(server_round, eval_replies)
        )
        if evaluate_fn is not None:
            outcome.server_metrics = _as_dict(evaluate_fn(server_round, arrays))

        outcome.seconds = time.perf_counter() - started
        logger.info(
            "round %d/%d done in %.1f s: %d/%d clients trained, server metrics %s",
            server_round,
            num_rounds,
            outcome.seconds,
            outcome.succeeded,
            outcome.sampled,
            outcome.server_metrics,
        )
        outcomes.append(outcome)
        if on_round is not None:
            on_round(outcome)
    return outcomes
