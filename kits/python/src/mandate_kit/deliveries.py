"""Deliveries kept whole: the server numbers a consumer's deliveries 1, 2, 3... from its
creation (the consumer sequence, redeliveries included).

The watermark skips everything at or below the last applied stream sequence, and one ack
(policy `all`) acknowledges everything up to the last message of a batch. Both assume that
no delivery goes missing. One can: a connection that drops, a cluster node that goes down with
the consumer's leader — each loses what was on its way. If what followed were applied, the
lost message would fall below the watermark and be acknowledged unseen, and nothing would
ever deliver it again. A gap in the consumer sequence is how the loss shows; the consume loop
then applies nothing more and seats the consumer again just past the watermark, so the server
delivers everything after it again, in stream order (the Rust kit's `pull.rs` does the same).
"""

from __future__ import annotations

from typing import Optional, Sequence

from nats.aio.msg import Msg


class Deliveries:
    def __init__(self, delivered: int, lose_first: bool = False):
        # The consumer sequence the next delivery must carry.
        self.next = delivered + 1
        # Why they stopped following one another, once they have.
        self.broken: Optional[str] = None
        # Fault injection for tests: the first delivery is lost on the way.
        self._lose_next = lose_first

    def whole(self, batch: Sequence[Msg]) -> list[Msg]:
        """The messages of `batch` up to the first that does not follow the one before it
        (after which `broken` says why)."""
        kept: list[Msg] = []
        for message in batch:
            if self._lose_next:
                # As if it never came: the one after it is the first to be checked.
                self._lose_next = False
                continue
            came = message.metadata.sequence.consumer
            if came != self.next:
                self.broken = self._why(came)
                break
            self.next += 1
            kept.append(message)
        return kept

    def _why(self, came: int) -> str:
        if came > self.next:
            return f"delivery {came} came where {self.next} was due: the ones between were lost on the way"
        return f"delivery {came} came where {self.next} was due: the consumer's state went back (a new leader?)"
