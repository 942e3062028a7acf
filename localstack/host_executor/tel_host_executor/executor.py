"""LocalStack's RuntimeExecutor interface, implemented with host processes.

LocalStack makes one executor per execution environment and calls start()
once, invoke() once per invocation (never two at a time: its assignment
service starts another environment for a concurrent invoke), and stop() when
the environment expires, the function changes or LocalStack stops. Invocation
results are returned straight from invoke() with the invocation's logs, which
LocalStack writes to the function's log stream (version_manager.store_logs).

The environment mirrors Lambda's: start() runs the bootstrap's init and waits
for its first GET /invocation/next. When an init fails, the invoke that
follows re-runs it (as Lambda's "suppressed init" does) and reports that
failure. A crash, timeout or out-of-memory kill ends the process and the next
invoke starts a fresh one; an error the function reports itself through
/invocation/{id}/error keeps the process warm.
"""

import base64
import json
import logging
import os
import platform
import sys
import threading
import time
from pathlib import Path

from localstack import config
from localstack.aws.api.lambda_ import Architecture, PackageType
from localstack.services.lambda_.invocation.executor_endpoint import StatusErrorException
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import LambdaRuntimeException, RuntimeExecutor

from tel_host_executor import lambda_format as fmt
from tel_host_executor.sandbox import Event, Outcome, Sandbox, bootstrap_problem

LOG = logging.getLogger(__name__)

# Lambda gives an on-demand init 10 s before it retries it within the invoke.
INIT_TIMEOUT_S = 10.0
# What a Lambda sandbox has before the function's own variables.
BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin:/opt/bin", "LANG": "en_US.UTF-8"}
# Instructions to LocalStack's in-container init, which this executor replaces.
RIE_ONLY_ENV = ("LOCALSTACK_RUNTIME_ENDPOINT", "LOCALSTACK_RUNTIME_ID", "LOCALSTACK_CHMOD_PATHS")
HOST_ARCHITECTURE = {"x86_64": Architecture.x86_64, "aarch64": Architecture.arm64}.get(platform.machine())


class _InitFailed(Exception):
    def __init__(self, error_type: str, payload: bytes, logs: str) -> None:
        super().__init__(error_type)
        self.error_type, self.payload, self.logs = error_type, payload, logs


class HostRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self._env: dict[str, str] = {}
        self._sandbox: Sandbox | None = None
        self._bootstrap_stamp: tuple | None = None
        self._lock = threading.Lock()  # the sandbox in place, against stop()
        self._stopped = False
        self._carried_logs = ""  # a failed start()'s logs, shown by the next invoke
        self._init_ms: float | None = None  # reported by the first invoke after start()
        self._last_output = ""  # get_logs() after the sandbox is gone

    # Where things are.

    def _code_dir(self) -> Path:
        return self.function_version.config.code.get_unzipped_code_location()

    def _bootstrap(self) -> str:
        return str(self._code_dir() / "bootstrap")

    # LocalStack's interface.

    def start(self, env_vars: dict[str, str]) -> None:
        self._env = self._environment(env_vars)
        try:
            self._init("init", time.monotonic() + INIT_TIMEOUT_S, request_id=None)
        except _InitFailed as failure:
            self._carried_logs = failure.logs
            if env_vars.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "provisioned-concurrency":
                # Provisioned environments must be ready: LocalStack marks them failed.
                raise StatusErrorException("Environment startup failed", payload=failure.payload)
        if self._stopped:
            raise LambdaRuntimeException(f"Environment {self.id} was stopped while starting")

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            sandbox, self._sandbox = self._sandbox, None
        if sandbox:
            self._retire(sandbox)

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload["invoke-id"]
        started = time.monotonic()
        timeout_s = float(self.function_version.config.timeout)
        deadline = started + timeout_s
        logs = [self._carried_logs]
        self._carried_logs = ""
        init_ms, self._init_ms = self._init_ms, None

        sandbox = self._sandbox
        if sandbox is None or not sandbox.alive() or self._bootstrap_changed():
            if sandbox:
                self._replace(sandbox)
            init_ms = None  # an init within the invoke counts in its Duration
            try:
                sandbox = self._init("invoke", deadline, request_id)
            except _InitFailed as failure:
                status = "timeout" if failure.error_type == "Sandbox.Timedout" else "error"
                logs += [
                    fmt.start_line(request_id, self._version()),
                    failure.logs,
                    self._end(request_id, started, None, 0, status, failure.error_type),
                ]
                return InvocationResult(request_id, failure.payload, is_error=True, logs="".join(logs))
        # What init printed comes before START, as on Lambda, also for an
        # init within this invoke (its output can still be in the pipe).
        logs.append(sandbox.output.take())
        logs.append(fmt.start_line(request_id, self._version()))

        outcome = sandbox.invoke(self._event(payload, deadline), deadline)
        logs.append(sandbox.output.take())
        result, status, error_type = self._result(request_id, outcome, sandbox, timeout_s, logs)
        peak = sandbox.memory.peak_bytes
        if status:
            self._replace(sandbox)
        logs.append(self._end(request_id, started, init_ms, peak, status, error_type))
        result.logs = "".join(logs)
        return result

    def get_logs(self) -> str:
        sandbox = self._sandbox
        return sandbox.output.history() if sandbox else self._last_output

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        # The bootstrap runs beside LocalStack: its gateway is on this host.
        host = config.GATEWAY_LISTEN[0].host
        return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host

    def get_runtime_endpoint(self) -> str:
        # Only LocalStack's in-container init calls back here; nothing does in host mode.
        return f"http://{self.get_endpoint_from_executor()}:{config.GATEWAY_LISTEN[0].port}/_localstack_lambda/{self.id}"

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        """Refuses, at create time (the function goes to state Failed with the
        reason), what cannot run as a host process."""
        cfg = function_version.config
        if cfg.package_type != PackageType.Zip:
            raise NotImplementedError("the host executor runs zip and hot-reload code, not container images")
        if not (cfg.runtime or "").startswith("provided"):
            raise NotImplementedError(
                f"the host executor runs OS-only runtimes (provided.al2023, provided.al2), not {cfg.runtime}"
            )
        if not config.LAMBDA_IGNORE_ARCHITECTURE and cfg.architectures[0] != HOST_ARCHITECTURE:
            raise NotImplementedError(
                f"this host runs {HOST_ARCHITECTURE} functions, not {cfg.architectures[0]} "
                "(LAMBDA_IGNORE_ARCHITECTURE=1 runs them anyway)"
            )
        if cfg.code:
            cfg.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass

    @classmethod
    def validate_environment(cls) -> bool:
        return sys.platform == "linux"

    # The parts.

    def _environment(self, env_vars: dict[str, str]) -> dict[str, str]:
        """LocalStack's variables for the function (Lambda's own, the role's
        credentials, AWS_ENDPOINT_URL at the gateway, then the function's), with
        paths that exist on this host. Nothing of LocalStack's own environment
        leaks in, as nothing of the host's does in Lambda."""
        env = dict(BASE_ENV)
        env.update({name: str(value) for name, value in env_vars.items() if name not in RIE_ONLY_ENV})
        env["LAMBDA_TASK_ROOT"] = str(self._code_dir())
        return env

    def _version(self) -> str:
        return self.function_version.id.qualifier

    def _init(self, phase: str, deadline: float, request_id: str | None) -> Sandbox:
        """Starts a bootstrap and waits until it asks for its first event."""
        bootstrap = self._bootstrap()
        self._bootstrap_stamp = _stamp(bootstrap)
        problem = bootstrap_problem(bootstrap)
        if not problem:
            try:
                sandbox = Sandbox(bootstrap, str(self._code_dir()), self._env, int(self.function_version.config.memory_size))
            except OSError as e:  # e.g. not an executable of this machine
                problem = f"fork/exec {bootstrap}: {e.strerror or e}"
        if problem:
            message = fmt.error_prefix(request_id) + problem
            logs = f"{message}\nRuntime.InvalidEntrypoint\n"
            raise _InitFailed("Runtime.InvalidEntrypoint", fmt.error_payload("Runtime.InvalidEntrypoint", message), logs)
        with self._lock:
            stopped = self._stopped
            if not stopped:
                self._sandbox = sandbox
        if stopped:
            self._retire(sandbox)
            raise LambdaRuntimeException(f"Environment {self.id} was stopped while starting")

        outcome = sandbox.wait_ready(deadline)
        duration_ms = (time.monotonic() - sandbox.started) * 1000
        if outcome.kind == "ready":
            if phase == "init":
                self._init_ms = duration_ms
            return sandbox

        timeout_s = float(self.function_version.config.timeout)
        if outcome.kind == "init_error":
            payload = fmt.init_error(outcome.body, outcome.error_type)
            error_type = outcome.error_type or json.loads(payload).get("errorType") or "Runtime.Unknown"
            extra = ""
        elif outcome.kind == "exit":
            error_type, message = fmt.runtime_exit(request_id, outcome.returncode, sandbox.out_of_memory)
            payload = fmt.error_payload(error_type, message)
            extra = f"{message}\n{error_type}\n"
        elif phase == "invoke":  # a timeout: within an invoke, the function's own
            error_type, message = fmt.timed_out(request_id, timeout_s)
            payload = fmt.error_payload(error_type, message)
            extra = fmt.timeout_line(request_id, timeout_s)
        else:
            error_type = "Sandbox.Timedout"
            payload = fmt.error_payload(error_type, f"Error: Init timed out after {INIT_TIMEOUT_S:.2f} seconds")
            extra = ""
        status = "timeout" if outcome.kind == "timeout" else "error"
        logs = sandbox.output.take(wait_s=0.02) + extra + fmt.init_report(duration_ms, phase, status, error_type)
        self._replace(sandbox)
        raise _InitFailed(error_type, payload, logs)

    def _event(self, payload: dict[str, str], deadline: float) -> Event:
        deadline_ms = int((time.time() + deadline - time.monotonic()) * 1000)
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": payload["invoke-id"],
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": payload["invoked-function-arn"],
            "Lambda-Runtime-Trace-Id": payload["trace-id"],
        }
        if client_context := _client_context():
            headers["Lambda-Runtime-Client-Context"] = client_context
        return Event(payload["invoke-id"], payload["payload"].encode(), headers)

    def _result(self, request_id: str, outcome: Outcome, sandbox: Sandbox, timeout_s: float, logs: list[str]):
        """The invocation's result, and for a failure that ends the sandbox its
        REPORT status and error type."""
        if outcome.kind == "response":
            limit = config.LAMBDA_LIMITS_MAX_FUNCTION_PAYLOAD_SIZE_BYTES
            if len(outcome.body) <= limit:
                return InvocationResult(request_id, outcome.body, is_error=False, logs=None), None, None
            message = f"Response payload size ({len(outcome.body)} bytes) exceeded maximum allowed payload size ({limit} bytes)."
            payload = fmt.error_payload("Function.ResponseSizeTooLarge", message)
            return InvocationResult(request_id, payload, is_error=True, logs=None), None, None
        if outcome.kind == "error":
            return InvocationResult(request_id, outcome.body, is_error=True, logs=None), None, None
        if outcome.kind == "exit":
            error_type, message = fmt.runtime_exit(request_id, outcome.returncode, sandbox.out_of_memory)
            logs.append(f"{message}\n{error_type}\n")
            status = "error"
        else:
            error_type, message = fmt.timed_out(request_id, timeout_s)
            logs.append(fmt.timeout_line(request_id, timeout_s))
            status = "timeout"
        payload = fmt.error_payload(error_type, message)
        return InvocationResult(request_id, payload, is_error=True, logs=None), status, error_type

    def _end(self, request_id, started, init_ms, peak_bytes, status, error_type) -> str:
        cfg = self.function_version.config
        duration_ms = min((time.monotonic() - started) * 1000, cfg.timeout * 1000)
        used_mb = max(1, round(peak_bytes / (1024 * 1024)))
        return fmt.end_and_report(request_id, duration_ms, cfg.memory_size, used_mb, init_ms, status, error_type)

    def _bootstrap_changed(self) -> bool:
        """Hot-reload code: a rebuilt bootstrap is picked up by the next invoke,
        as LocalStack's init restarts the runtime when the mounted code changes."""
        if not self.function_version.config.code.is_hot_reloading():
            return False
        return _stamp(self._bootstrap()) != self._bootstrap_stamp

    def _replace(self, sandbox: Sandbox) -> None:
        with self._lock:
            if self._sandbox is sandbox:
                self._sandbox = None
        self._retire(sandbox)

    def _retire(self, sandbox: Sandbox) -> None:
        sandbox.kill()
        self._last_output = sandbox.output.history()


def _stamp(path: str) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _client_context() -> str | None:
    """The invocation's ClientContext, as the Lambda-Runtime-Client-Context
    header carries it (JSON). LocalStack's ExecutionEnvironment.invoke, our
    caller, does not pass it on (its own in-container init ignores it), so it is
    read from that caller's `invocation`; without it, no header."""
    frame, encoded = sys._getframe(1), None
    for _ in range(6):
        if frame is None:
            return None
        invocation = frame.f_locals.get("invocation")
        if hasattr(invocation, "client_context"):
            encoded = invocation.client_context
            break
        frame = frame.f_back
    if not encoded:
        return None
    try:
        return json.dumps(json.loads(base64.b64decode(encoded)), separators=(",", ":"))
    except ValueError:
        return None
