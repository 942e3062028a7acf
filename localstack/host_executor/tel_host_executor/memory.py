"""The memory setting, enforced by watching each process group's RSS.

Lambda caps a sandbox's memory and ends the runtime when it needs more. Here
one thread sums the resident set of every process in a busy bootstrap's
process group ten times a second and kills the group once it passes the
function's MemorySize; the invoke then fails as Runtime.OutOfMemory. The peak
seen is the REPORT line's "Max Memory Used".

Only groups that are initialising or invoking are watched (one scan of /proc
costs ~2 ms): an idle bootstrap is frozen in Lambda and barely grows here. An
allocation faster than the interval can overshoot the limit before the kill.
"""

import os
import threading
import time

INTERVAL_S = 0.1
_PAGE = os.sysconf("SC_PAGE_SIZE")


def group_rss() -> dict[int, int]:
    """Resident bytes per process group, over all processes."""
    totals: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # Fields after the command name (which may hold spaces), from field 3.
        fields = stat[stat.rindex(b")") + 2 :].split()
        pgrp, rss_pages = int(fields[2]), int(fields[21])
        totals[pgrp] = totals.get(pgrp, 0) + rss_pages * _PAGE
    return totals


class Watch:
    """One process group under watch while busy."""

    def __init__(self, pgid: int, limit_bytes: int, on_exceeded) -> None:
        self.pgid = pgid
        self.limit_bytes = limit_bytes
        self.on_exceeded = on_exceeded
        self.peak_bytes = 0
        self.busy = False

    def sample(self, rss: int) -> None:
        self.peak_bytes = max(self.peak_bytes, rss)
        if rss > self.limit_bytes:
            self.busy = False
            self.on_exceeded()

    def measure_now(self) -> None:
        """One sample once init is done, so that invokes shorter than the
        interval report a peak too."""
        self.sample(group_rss().get(self.pgid, 0))


class Watcher:
    def __init__(self) -> None:
        self._watches: set[Watch] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        threading.Thread(target=self._loop, name="host-executor-memory", daemon=True).start()

    def add(self, watch: Watch) -> None:
        with self._lock:
            self._watches.add(watch)
        self._wake.set()

    def remove(self, watch: Watch) -> None:
        with self._lock:
            self._watches.discard(watch)

    def busy(self, watch: Watch, busy: bool) -> None:
        watch.busy = busy
        if busy:
            self._wake.set()

    def _loop(self) -> None:
        while True:
            with self._lock:
                busy = [w for w in self._watches if w.busy]
            if not busy:
                self._wake.wait()
                self._wake.clear()
                # The first sample comes an interval later: a scan holds the
                # GIL ~2 ms, which a short invoke need not wait for.
                time.sleep(INTERVAL_S)
                continue
            totals = group_rss()
            for watch in busy:
                watch.sample(totals.get(watch.pgid, 0))
            time.sleep(INTERVAL_S)


_watcher: Watcher | None = None
_watcher_lock = threading.Lock()


def watcher() -> Watcher:
    global _watcher
    with _watcher_lock:
        if _watcher is None:
            _watcher = Watcher()
        return _watcher
