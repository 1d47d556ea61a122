"""A Flower ``Grid`` wrapper that records every message exchange.

:class:`ProvenanceGrid` passes each call to the grid it wraps and tells the
recorder about each instruction pushed and each reply pulled, joined on the
reply's ``reply_to_message_id``. It maps error replies that the SuperLink
sends in a node's place (``src_node_id`` 1, code 5 NODE_UNAVAILABLE) back to
that node, and reports instructions left without a reply when
``send_and_receive`` returns (the round timeout).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from flwr.app import Message, RecordDict
from flwr.proto.node_pb2 import NodeInfo
from flwr.serverapp import Grid
from flwr.supercore.run import Run

from fedprov.capture.recorder import RunRecorder

__all__ = ["ProvenanceGrid"]

logger = logging.getLogger(__name__)


class ProvenanceGrid(Grid):
    """Delegate to ``grid`` and record the messages that pass through it.

    Parameters
    ----------
    grid
        The grid Flower gave the ServerApp (``InMemoryGrid`` in simulation,
        ``HttpGrid`` in deployment).
    recorder
        Where the records go.
    """

    def __init__(self, grid: Grid, recorder: RunRecorder) -> None:
        self.inner = grid
        self.recorder = recorder

    def set_run(self, run: Run) -> None:
        """Set the run on the wrapped grid."""
        self.inner.set_run(run)

    @property
    def run(self) -> Run:
        """The wrapped grid's run."""
        return self.inner.run

    def create_message(  # noqa: PLR0913 - Flower's signature
        self,
        content: RecordDict,
        message_type: str,
        dst_node_id: int,
        group_id: str,
        ttl: float | None = None,
    ) -> Message:
        """Create a message through the wrapped grid (deprecated in Flower 1.42)."""
        return self.inner.create_message(
            content, message_type, dst_node_id, group_id, ttl
        )

    def get_node_ids(self) -> Iterable[int]:
        """Return the wrapped grid's node ids."""
        return self.inner.get_node_ids()

    def get_nodes(self) -> Iterable[NodeInfo]:
        """Return the wrapped grid's node information."""
        return self.inner.get_nodes()

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        """Push through the wrapped grid and register each pushed instruction."""
        batch = list(messages)
        pushed_at = dt.datetime.now(dt.UTC)
        message_ids = list(self.inner.push_messages(batch))
        self.recorder.record_pushed(batch, pushed_at)
        return message_ids

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        """Pull through the wrapped grid and record each reply."""
        replies = list(self.inner.pull_messages(message_ids))
        self.recorder.record_replies(replies)
        return replies

    def send_and_receive(
        self,
        messages: Iterable[Message],
        *,
        timeout: float | None = None,
    ) -> Iterable[Message]:
        """Send through the wrapped grid, then record replies and timeouts.

        The wrapped grid assigns message ids in place while it pushes, so the
        instructions are registered after it returns, with the time of the
        call as their push time.
        """
        batch = list(messages)
        pushed_at = dt.datetime.now(dt.UTC)
        replies = list(self.inner.send_and_receive(batch, timeout=timeout))
        self.recorder.record_pushed(batch, pushed_at)
        self.recorder.record_replies(replies)
        answered = {reply.metadata.reply_to_message_id for reply in replies}
        missing = [
            message.metadata.message_id
            for message in batch
            if message.metadata.message_id
            and message.metadata.message_id not in answered
        ]
        if missing:
            self.recorder.record_timeouts(missing, timeout)
        return replies
