"""Invokes through LocalStack's Lambda API, run by the host executor."""

import base64
import json
import threading
import time

from conftest import ENDPOINT, alive, invoke


def test_result_environment_and_headers(lam, function):
    name, directory = function(memory=256, env={"FAKE_SETTING": "from-the-function"})
    response, body = invoke(lam, name, {"op": "env"})
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    env = body["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert "[$LATEST]" in env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["_HANDLER"] == "bootstrap"
    assert env["LAMBDA_TASK_ROOT"] == str(directory) == body["cwd"]
    assert env["AWS_ENDPOINT_URL"] == ENDPOINT
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"] and env["AWS_SESSION_TOKEN"]
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert env["FAKE_SETTING"] == "from-the-function"

    context = {"custom": {"tenant": "t1"}}
    before = time.time() * 1000
    response, body = invoke(
        lam, name, {"op": "headers"}, ClientContext=base64.b64encode(json.dumps(context).encode()).decode()
    )
    headers = body["headers"]
    assert headers["Lambda-Runtime-Aws-Request-Id"] == response["ResponseMetadata"]["RequestId"]
    assert headers["Lambda-Runtime-Invoked-Function-Arn"].endswith(f":function:{name}")
    assert headers["Lambda-Runtime-Trace-Id"].startswith("Root=")
    assert before + 2000 < int(headers["Lambda-Runtime-Deadline-Ms"]) < before + 4000  # Timeout 3 s
    assert json.loads(headers["Lambda-Runtime-Client-Context"]) == context


def test_environment_is_reused_warm(lam, function):
    name, _ = function()
    _, first = invoke(lam, name, {"op": "echo", "n": 1})
    _, second = invoke(lam, name, {"op": "echo", "n": 2})
    assert first["pid"] == second["pid"]
    assert second["event"] == {"op": "echo", "n": 2}


def test_concurrent_invokes_get_an_environment_each(lam, function):
    name, _ = function()
    results = []

    def call():
        response, body = invoke(lam, name, {"op": "sleep", "seconds": 1})
        results.append((response.get("FunctionError"), body["pid"]))

    started = time.monotonic()
    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and all(error is None for error, _ in results)
    assert results[0][1] != results[1][1]
    assert time.monotonic() - started < 1.9, "the two ran one after the other"


def test_a_handled_error_keeps_the_environment(lam, function):
    name, _ = function()
    _, before = invoke(lam, name, {"op": "echo"})
    response, body = invoke(lam, name, {"op": "error"})
    assert response["FunctionError"] == "Unhandled"
    assert body == {"errorType": "FakeError", "errorMessage": "it went wrong"}
    _, after = invoke(lam, name, {"op": "echo"})
    assert after["pid"] == before["pid"]


def test_a_crash_is_runtime_exit_error_and_the_next_invoke_starts_afresh(lam, function):
    name, _ = function()
    _, before = invoke(lam, name, {"op": "echo"})
    response, body = invoke(lam, name, {"op": "crash", "code": 3})
    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["FunctionError"] == "Unhandled"
    assert body == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status 3",
    }
    response, after = invoke(lam, name, {"op": "echo"})
    assert "FunctionError" not in response and after["pid"] != before["pid"]


def test_a_timeout_is_reported_and_the_environment_replaced(lam, function):
    name, _ = function(timeout=1)
    _, before = invoke(lam, name, {"op": "echo"})
    started = time.monotonic()
    response, body = invoke(lam, name, {"op": "sleep", "seconds": 5})
    elapsed = time.monotonic() - started
    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["FunctionError"] == "Unhandled"
    assert body == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {request_id} Error: Task timed out after 1.00 seconds",
    }
    assert 1.0 <= elapsed < 2.0
    assert not alive(before["pid"])
    response, after = invoke(lam, name, {"op": "echo"})
    assert "FunctionError" not in response and after["pid"] != before["pid"]


def test_memory_past_the_limit_is_runtime_out_of_memory(lam, function):
    name, _ = function(memory=128)
    response, body = invoke(lam, name, {"op": "alloc", "mb": 300})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.OutOfMemory"
    assert body["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
    response, _ = invoke(lam, name, {"op": "echo"})
    assert "FunctionError" not in response


def test_an_init_that_exits_fails_the_invoke_until_fixed(lam, function):
    name, directory = function()
    (directory / "fail-init").write_text("exit 2")
    response, body = invoke(lam, name, {"op": "echo"})
    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["FunctionError"] == "Unhandled"
    assert body == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status 2",
    }
    logs = base64.b64decode(invoke(lam, name, {}, LogType="Tail")[0]["LogResult"]).decode()
    assert "init failing: exiting" in logs and "INIT_REPORT" in logs and "Status: error" in logs
    (directory / "fail-init").unlink()
    response, body = invoke(lam, name, {"op": "echo"})
    assert "FunctionError" not in response and body["event"] == {"op": "echo"}


def test_an_init_error_posted_by_the_runtime_is_the_invoke_error(lam, function):
    name, directory = function()
    (directory / "fail-init").write_text("post")
    response, body = invoke(lam, name, {"op": "echo"})
    assert response["FunctionError"] == "Unhandled"
    assert body == {"errorType": "FakeInitError", "errorMessage": "bad config"}
    (directory / "fail-init").unlink()
    response, _ = invoke(lam, name, {"op": "echo"})
    assert "FunctionError" not in response


def test_a_missing_bootstrap_is_an_invalid_entrypoint(lam, function):
    name, directory = function(bootstrap=False)
    response, body = invoke(lam, name, {})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.InvalidEntrypoint"
    assert str(directory / "bootstrap") in body["errorMessage"]
