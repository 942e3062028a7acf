"""One bootstrap process and what belongs to it: its Runtime API server, its
output pipe and its memory watch. A sandbox serves invokes one at a time until
it fails (crash, timeout, out of memory, init failure) or is stopped; then it
is killed whole and the executor starts a new one for the next invoke, as
Lambda resets an environment.

Everything that can end a wait arrives on one queue, in the order it
happened: the runtime's requests (via the Runtime API), the process's exit
(a thread waits on it) and the memory watcher's kill.
"""

import dataclasses
import json
import os
import queue
import subprocess
import threading
import time
from http import HTTPStatus

from tel_host_executor import memory, spawner
from tel_host_executor.output import Output
from tel_host_executor.runtime_api import RuntimeApi


@dataclasses.dataclass
class Event:
    """An invocation as GET /invocation/next hands it to the runtime."""

    request_id: str
    body: bytes
    headers: dict[str, str]


@dataclasses.dataclass
class Outcome:
    """How a wait ended. kind: ready | init_error | response | error | exit | timeout."""

    kind: str
    body: bytes = b""
    error_type: str | None = None
    returncode: int | None = None


class Sandbox:
    def __init__(self, bootstrap: str, cwd: str, env: dict[str, str], memory_mb: int) -> None:
        self._outcomes: "queue.Queue[tuple[Outcome, str | None]]" = queue.Queue()
        self._events: "queue.Queue[Event | None]" = queue.Queue()
        self._current: str | None = None  # the request id being invoked
        self._ready = False
        self._killed = False
        self.out_of_memory = False
        self.api = RuntimeApi(self)
        self.output = Output()
        self.started = time.monotonic()
        try:
            self.process: subprocess.Popen = spawner.spawn(
                [bootstrap], dict(env, AWS_LAMBDA_RUNTIME_API=self.api.address), cwd, self.output.write_fd
            )
        except BaseException:
            self.output.start()  # closes our write end: the reader ends at once
            self.output.close()
            self.api.close()
            raise
        self.output.start()
        self.memory = memory.Watch(self.process.pid, memory_mb * 1024 * 1024, self._out_of_memory)
        memory.watcher().add(self.memory)
        memory.watcher().busy(self.memory, True)  # init counts
        threading.Thread(target=self._wait_exit, name="host-executor-exit", daemon=True).start()

    # What the Runtime API asks of us (called on its threads).

    def next_event(self) -> Event | None:
        if not self._ready:
            self._ready = True
            self._outcomes.put((Outcome("ready"), None))
        return self._events.get()

    def response(self, request_id: str, body: bytes):
        return self._invocation_result(Outcome("response", body), request_id)

    def error(self, request_id: str, body: bytes, error_type: str | None):
        return self._invocation_result(Outcome("error", body, error_type), request_id)

    def init_error(self, body: bytes, error_type: str | None):
        if self._ready:
            return HTTPStatus.FORBIDDEN, _status("InvalidStateTransition", "init already finished")
        self._outcomes.put((Outcome("init_error", body, error_type), None))
        return HTTPStatus.ACCEPTED, _status("OK")

    def _invocation_result(self, outcome: Outcome, request_id: str):
        if request_id != self._current:
            return HTTPStatus.BAD_REQUEST, _status("InvalidRequestID", f"unknown request id {request_id}")
        self._current = None  # one result per invocation
        self._outcomes.put((outcome, request_id))
        return HTTPStatus.ACCEPTED, _status("OK")

    def _wait_exit(self) -> None:
        returncode = self.process.wait()
        self._outcomes.put((Outcome("exit", returncode=returncode), None))

    def _out_of_memory(self) -> None:
        self.out_of_memory = True
        spawner.kill_group(self.process.pid)

    # What the executor asks of us (one invoke at a time).

    def alive(self) -> bool:
        return not self._killed and self.process.poll() is None

    def wait_ready(self, deadline: float) -> Outcome:
        """Until the runtime first asks for an event, fails its init or exits."""
        outcome = self._wait(deadline, ("ready", "init_error", "exit"), None)
        memory.watcher().busy(self.memory, False)
        if outcome.kind == "ready":
            self.memory.measure_now()
        return outcome

    def invoke(self, event: Event, deadline: float) -> Outcome:
        """Hands the event to the runtime and waits for its result, its exit
        or the deadline."""
        self._current = event.request_id
        memory.watcher().busy(self.memory, True)
        self._events.put(event)
        outcome = self._wait(deadline, ("response", "error", "exit"), event.request_id)
        self._current = None
        memory.watcher().busy(self.memory, False)
        return outcome

    def _wait(self, deadline: float, kinds: tuple[str, ...], request_id: str | None) -> Outcome:
        while True:
            try:
                outcome, for_request = self._outcomes.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return Outcome("timeout")
            if outcome.kind in kinds and (for_request is None or for_request == request_id):
                return outcome

    def kill(self) -> None:
        """Ends the process group and everything of ours that served it."""
        self._killed = True
        spawner.kill_group(self.process.pid)
        memory.watcher().remove(self.memory)
        self._events.put(None)  # frees a GET /next still waiting
        self.api.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.output.close()


def _status(status: str, message: str | None = None) -> bytes:
    body = {"status": status} if message is None else {"errorType": status, "errorMessage": message}
    return json.dumps(body).encode()


def bootstrap_problem(path: str) -> str | None:
    """Why path cannot be run as a bootstrap, in Lambda's words, or None."""
    if not os.path.isfile(path):
        return f"Couldn't find valid bootstrap(s): [{path}]"
    if not os.access(path, os.X_OK):
        return f"fork/exec {path}: permission denied"
    return None
