"""No bootstrap outlives LocalStack: not after `emulator.sh stop`, and not
after LocalStack is killed outright. Run last (conftest orders them): they
stop LocalStack."""

import os
import signal

from conftest import alive, emulator, invoke, localstack_pid, processes_under, wait_until


def warm_environments(lam, function):
    """Two warm functions, one of which started a child process of its own."""
    first, _ = function()
    second, _ = function()
    _, a = invoke(lam, first, {"op": "spawn"})
    _, b = invoke(lam, second, {"op": "echo"})
    assert alive(a["pid"]) and alive(a["child"]) and alive(b["pid"])
    return [a["pid"], a["child"], b["pid"]]


def test_stop_leaves_no_bootstrap_behind(lam, function, code_root):
    pids = warm_environments(lam, function)
    emulator("stop")
    assert [pid for pid in pids if alive(pid)] == []
    assert processes_under(code_root) == []


def test_a_killed_localstack_takes_its_bootstraps_along(lam, function, code_root):
    emulator("start")
    bootstrap, child, other = warm_environments(lam, function)
    os.kill(localstack_pid(), signal.SIGKILL)
    # The kernel kills each bootstrap when LocalStack dies (parent-death signal).
    assert wait_until(lambda: not alive(bootstrap) and not alive(other), timeout_s=5)
    # A bootstrap's own child has no such signal; stop ends it, as LocalStack's
    # session still holds it.
    emulator("stop")
    # The kill is sent as stop returns; the child may take a moment to exit.
    assert wait_until(lambda: not alive(child), timeout_s=5)
    assert processes_under(code_root) == []
