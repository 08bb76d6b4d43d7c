"""The small thread pool actions run in, so a slow target holds one thread and not the engine.

The dispatcher hands out at most one job per rule at a time, so with one thread per rule (the
default, up to ``MAX_WORKERS``) no rule ever waits for a thread. The threads are daemons: a
call still hanging when the service stops does not keep the process alive (its message stays
unacknowledged and comes back). ``concurrent.futures`` is not used for that reason: its threads
are joined at exit.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

LOG = logging.getLogger(__name__)
MAX_WORKERS = 32


class Workers:
    """``count`` daemon threads running the functions given to ``submit``, in order of arrival."""

    def __init__(self, count: int) -> None:
        self.count = max(1, min(count, MAX_WORKERS))
        self._tasks: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"action-{index}", daemon=True) for index in range(self.count)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, task: Callable[[], None]) -> None:
        self._tasks.put(task)

    def close(self) -> None:
        """Let the threads end once the queued tasks are done (does not wait for them)."""
        for _thread in self._threads:
            self._tasks.put(None)

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            try:
                task()
            except Exception:  # noqa: BLE001 (a task reports its own errors; this keeps the thread)
                LOG.exception("action thread: unexpected error")
