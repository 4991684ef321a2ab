from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..recorder import Batch

# apply(batch, token): write the batch into the rollup tables inside one transaction;
# with a token, also record the token there (a second apply of the same token must
# raise IntegrityError). Provided by perfmon.rollup.
Apply = Callable[[Batch, "str | None"], None]


class BufferUnavailable(RuntimeError):
    pass


class AlreadyApplied(Exception):
    """`apply` found its token already recorded: another drain applied this part."""


@dataclass(frozen=True)
class Pending:
    """Data in the buffer that no rollup has taken yet."""

    batch: Batch
    minutes: tuple[int, ...]


class MetricsBuffer:
    """Where processes flush their batches and the rollup drains them.

    Contract: `write` adds a batch (atomically, all or nothing) or raises;
    `drain` hands every closed minute's data to `apply` exactly once, even when
    drains run twice, late, or at the same time on several workers;
    `totals` is monotonic (lifetime sums for Prometheus, across all processes).
    """

    name = "base"

    def write(self, batch: Batch) -> None:
        raise NotImplementedError

    def drain(self, apply: Apply, *, before_minute: int) -> int:
        """Apply the data of minutes < before_minute; returns how many parts were applied."""
        raise NotImplementedError

    def pending(self, *, since_minute: int) -> Batch:
        """Not-yet-drained data of minutes >= since_minute (for the realtime view)."""
        raise NotImplementedError

    def totals(self) -> Batch:
        """Lifetime sums per (kind, route, method, status); keys carry minute 0."""
        raise NotImplementedError

    def dropped_total(self) -> int:
        """Requests whose metrics some process had to drop (reported once it could write again)."""
        raise NotImplementedError

    def ping(self) -> None:
        raise NotImplementedError
