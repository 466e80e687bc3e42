"""Which part of an epoch each training process loads (several processes, one model).

:func:`shard_order` has the semantics of :class:`torch.utils.data.DistributedSampler` with
``shuffle=False`` applied to an order that is already shuffled (vadkit shuffles by its own
seeded generator, so one process keeps exactly the order it had before): the order is padded by
repeating its start until every rank gets the same number of windows, then rank ``r`` takes
every ``world_size``-th window from position ``r``. Batch ``b`` of every rank then holds, together,
the windows of batch ``b`` of one process with a ``world_size`` times larger batch (up to the
padding of the last one), which is what makes a ``2 x 8`` run train like a ``1 x 16`` run.
"""

from __future__ import annotations

import numpy as np

from vadkit.errors import ConfigError


def shard_order(order: np.ndarray, rank: int = 0, world_size: int = 1) -> np.ndarray:
    """Rank ``rank``'s share of ``order`` (the whole of it for one process)."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ConfigError(
            f"rank {rank} is not in a world of {world_size} process(es).",
            hint="Start the processes with torchrun, which sets RANK and WORLD_SIZE.",
        )
    if world_size == 1:
        return order
    n = len(order)
    total = -(-n // world_size) * world_size
    padded = np.resize(order, total) if n else order  # np.resize repeats from the start
    return padded[rank:total:world_size]
