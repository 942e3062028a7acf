"""A bootstrap's stdout and stderr, collected for its log stream.

Both go into one pipe that a thread reads. Each invoke takes what was written
since the last one took its share, so an invoke's logs hold what the function
printed for it (and, on a cold start, during init), as Lambda's do.

A function prints and then posts its response: the printed bytes are in the
pipe before the response arrives, but the reader may not have read them yet.
`take` therefore first waits until the pipe is empty and the reader has
stored what it read (FIONREAD says how much is unread).
"""

import fcntl
import os
import select
import struct
import termios
import threading
import time

# get_logs() (LocalStack prints it when an environment fails) shows the tail.
_HISTORY_BYTES = 64 * 1024
# What a process prints between invokes waits for the next one; past this
# much, the oldest is dropped.
_PENDING_BYTES = 4 * 1024 * 1024


class Output:
    def __init__(self) -> None:
        self._read_fd, self.write_fd = os.pipe()
        self._lock = threading.Lock()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._history = bytearray()
        self._thread = threading.Thread(target=self._read_loop, name="host-executor-output", daemon=True)

    def start(self) -> None:
        """Once the process holds the write end: close ours, so the reader sees
        EOF when the process group is gone."""
        os.close(self.write_fd)
        self._thread.start()

    def _read_loop(self) -> None:
        # poll, not select: LocalStack may hold more than 1024 descriptors.
        poller = select.poll()
        poller.register(self._read_fd, select.POLLIN)
        while True:
            try:
                poller.poll()
            except OSError:
                return
            # Read and store under one lock: take() relies on it.
            with self._lock:
                try:
                    chunk = os.read(self._read_fd, 65536)
                except OSError:
                    return
                if not chunk:
                    return
                self._pending.append(chunk)
                self._pending_bytes += len(chunk)
                while self._pending_bytes > _PENDING_BYTES and len(self._pending) > 1:
                    self._pending_bytes -= len(self._pending.pop(0))
                self._history += chunk
                del self._history[:-_HISTORY_BYTES]

    def _unread(self) -> int:
        try:
            return struct.unpack("i", fcntl.ioctl(self._read_fd, termios.FIONREAD, b"\0\0\0\0"))[0]
        except OSError:
            return 0

    def take(self, wait_s: float = 0.05) -> str:
        """What was written since the last take."""
        deadline = time.monotonic() + wait_s
        while self._unread() and time.monotonic() < deadline:
            time.sleep(0.001)
        with self._lock:
            data, self._pending, self._pending_bytes = b"".join(self._pending), [], 0
        return data.decode(errors="replace")

    def history(self) -> str:
        with self._lock:
            return bytes(self._history).decode(errors="replace")

    def close(self, wait_s: float = 0.5) -> None:
        """After the process group is dead: read what is left, then stop."""
        self._thread.join(wait_s)
        # A reader still blocked (a process that left the group keeps the pipe
        # open) would read whatever file later reuses the descriptor's number:
        # then the descriptor is left open instead.
        if not self._thread.is_alive():
            os.close(self._read_fd)
