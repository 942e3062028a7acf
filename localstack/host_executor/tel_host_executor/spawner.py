"""Starting and ending bootstrap processes so that none outlives LocalStack.

Each bootstrap runs in a process group of its own (killing the group ends
whatever it started too) and with a parent-death signal: if LocalStack dies,
even by SIGKILL, the kernel kills the bootstrap.

The parent-death signal fires when the *thread* that forked the child ends,
not the process. LocalStack invokes on short-lived request and pool threads,
so every fork happens on one thread of ours that lives as long as LocalStack.
"""

import ctypes
import os
import queue
import shutil
import signal
import subprocess
import threading
from concurrent.futures import Future

_SETPRIV = shutil.which("setpriv")
_PR_SET_PDEATHSIG = 1

_requests: "queue.Queue[tuple[Future, dict]]" = queue.Queue()
_thread: threading.Thread | None = None
_thread_lock = threading.Lock()


def _fork_loop() -> None:
    while True:
        future, kwargs = _requests.get()
        try:
            future.set_result(subprocess.Popen(**kwargs))
        except BaseException as e:  # handed to the caller, whatever it is
            future.set_exception(e)


def _set_pdeathsig() -> None:
    # Only without setpriv: a preexec_fn runs Python between fork and exec,
    # which the subprocess docs warn may deadlock in a threaded process.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn(argv: list[str], env: dict[str, str], cwd: str, output_fd: int) -> subprocess.Popen:
    """Start argv in a new process group, stdout and stderr both to output_fd
    (one stream, in the order written, as Lambda's log stream has them)."""
    global _thread
    with _thread_lock:
        if _thread is None:
            _thread = threading.Thread(target=_fork_loop, name="host-executor-spawner", daemon=True)
            _thread.start()
    kwargs = dict(
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=output_fd,
        stderr=output_fd,
        process_group=0,
        close_fds=True,
    )
    if _SETPRIV:
        kwargs["args"] = [_SETPRIV, "--pdeathsig", "KILL", "--", *argv]
    else:
        kwargs["args"] = argv
        kwargs["preexec_fn"] = _set_pdeathsig
    future: Future = Future()
    _requests.put((future, kwargs))
    return future.result()


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
