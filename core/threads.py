"""The one owner of torch's thread setting, shared by training and prediction.

Training (mini-batches of an MLP are tiny matrix products: one thread is many times faster
than several, and results do not depend on the core count) and block-wise prediction (one
worker per core, each single-threaded: torch's own threads would oversubscribe the cores) both
run torch single-threaded. torch's setting is process-wide, so when a training and a
classification overlap (the dialog's task beside a Processing run) each saving and restoring
it on its own would undo the other. Here the first user saves the setting and the last one
restores it, and :func:`cpu_threads` keeps answering the machine's setting meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

_lock = threading.Lock()
_users = 0
_saved = 1


@contextmanager
def single_threaded(torch: ModuleType) -> Iterator[None]:
    """Run torch on one thread meanwhile (reference counted across threads).

    Args:
        torch: the torch module (imported lazily by the callers).
    """
    global _users, _saved
    with _lock:
        if _users == 0:
            _saved = torch.get_num_threads()
            torch.set_num_threads(1)
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                torch.set_num_threads(_saved)


def cpu_threads(torch: ModuleType) -> int:
    """The torch thread count as the user or the machine set it.

    Also while a :func:`single_threaded` section runs (prediction sizes its worker pool with
    it).

    Args:
        torch: the torch module (imported lazily by the callers).

    Returns:
        Threads, >= 1.
    """
    with _lock:
        return max(1, _saved if _users else torch.get_num_threads())
