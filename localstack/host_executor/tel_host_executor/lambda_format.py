"""What Lambda says, in Lambda's words: the error payloads an invoke returns
when the runtime fails (rather than the function reporting an error itself),
and the START/END/REPORT lines of a function's log stream."""

import json
import math
import signal
from datetime import datetime, timezone

# Lambda's runtime manager is written in Go and words a process's end as Go's
# os.ProcessState does ("exit status 1", "signal: killed").
_GO_SIGNAL_NAMES = {
    signal.SIGKILL: "killed",
    signal.SIGTERM: "terminated",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGBUS: "bus error",
    signal.SIGILL: "illegal instruction",
    signal.SIGFPE: "floating point exception",
    signal.SIGINT: "interrupt",
    signal.SIGHUP: "hangup",
    signal.SIGPIPE: "broken pipe",
}


def exit_description(returncode: int) -> str:
    """A Popen returncode as Lambda prints it: 'exit status 2', 'signal: killed'."""
    if returncode >= 0:
        return f"exit status {returncode}"
    try:
        name = _GO_SIGNAL_NAMES.get(signal.Signals(-returncode))
    except ValueError:
        name = None
    return f"signal: {name or f'signal {-returncode}'}"


def error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def error_prefix(request_id: str | None) -> str:
    """How Lambda's messages begin; an init outside any invoke has no id."""
    return f"RequestId: {request_id} Error: " if request_id else "Error: "


def runtime_exit(request_id: str | None, returncode: int, out_of_memory: bool) -> tuple[str, str]:
    """The runtime process ended during an invoke (or its init): error type
    and message."""
    error_type = "Runtime.OutOfMemory" if out_of_memory else "Runtime.ExitError"
    return error_type, f"{error_prefix(request_id)}Runtime exited with error: {exit_description(returncode)}"


def timed_out(request_id: str, timeout_s: float) -> tuple[str, str]:
    return "Sandbox.Timedout", f"{error_prefix(request_id)}Task timed out after {timeout_s:.2f} seconds"


def init_error(body: bytes, error_type: str | None) -> bytes:
    """What the runtime posted to /runtime/init/error, as the invoke's payload:
    its own body when it is an error object, else one built around it."""
    try:
        parsed = json.loads(body)
        if isinstance(parsed, dict) and "errorMessage" in parsed:
            return body
    except ValueError:
        pass
    return error_payload(error_type or "Runtime.Unknown", body.decode(errors="replace"))


def timestamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}\n"


def timeout_line(request_id: str, timeout_s: float) -> str:
    return f"{timestamp()} {request_id} Task timed out after {timeout_s:.2f} seconds\n"


def init_report(duration_ms: float, phase: str, status: str, error_type: str | None) -> str:
    line = f"INIT_REPORT Init Duration: {duration_ms:.2f} ms\tPhase: {phase}\tStatus: {status}"
    if error_type:
        line += f"\tError Type: {error_type}"
    return line + "\n"


def end_and_report(
    request_id: str,
    duration_ms: float,
    memory_mb: int,
    max_used_mb: int,
    init_ms: float | None,
    status: str | None = None,
    error_type: str | None = None,
) -> str:
    """END and REPORT. A custom runtime's init is billed with its first invoke."""
    billed = math.ceil(duration_ms + (init_ms or 0))
    report = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {billed} ms\tMemory Size: {memory_mb} MB\t"
        f"Max Memory Used: {max_used_mb} MB\t"
    )
    if init_ms is not None:
        report += f"Init Duration: {init_ms:.2f} ms\t"
    if status:
        report += f"Status: {status}\t"
    if error_type:
        report += f"Error Type: {error_type}\t"
    return f"END RequestId: {request_id}\n{report}\n"
