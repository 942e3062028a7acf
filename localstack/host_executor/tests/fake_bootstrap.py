"""A fake custom-runtime bootstrap: the Runtime API client loop that
lambda_runtime implements, driven by its event so that one function can
succeed, fail, crash, time out or use memory on demand.

The tests copy it into a function's hot-reload directory as `bootstrap`, with
a `#!` line naming the LocalStack venv's Python.

Init: if the code directory holds a file `fail-init`, init fails as the file
says: `exit N` (exits before asking for an event) or `post` (reports through
/runtime/init/error).

Events: {"op": ...} with op one of echo, env, headers, sleep (seconds), crash
(code), error, print (text), alloc (MB), spawn (starts a child process).
Each invoke appends its event to $FAKE_RECORD when that is set.
"""

import http.client
import json
import os
import subprocess
import sys
import time

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
PREFIX = "/2018-06-01/runtime"
ENV_SHOWN = (
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_REGION", "AWS_DEFAULT_REGION",
    "_HANDLER", "LAMBDA_TASK_ROOT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL", "AWS_LAMBDA_RUNTIME_API", "FAKE_SETTING", "PATH",
)

# One connection for the whole life of the process, as hyper keeps one.
connection = http.client.HTTPConnection(API)


def call(method, path, body=None, headers=None):
    connection.request(method, PREFIX + path, body=body, headers=headers or {})
    response = connection.getresponse()
    return response, response.read()


def init():
    print(f"init pid={os.getpid()}", flush=True)
    marker = os.path.join(os.environ["LAMBDA_TASK_ROOT"], "fail-init")
    if not os.path.exists(marker):
        return
    how = open(marker).read().split()
    if how[0] == "exit":
        print("init failing: exiting", flush=True)
        sys.exit(int(how[1]))
    call("POST", "/init/error", json.dumps({"errorType": "FakeInitError", "errorMessage": "bad config"}),
         {"Lambda-Runtime-Function-Error-Type": "FakeInitError"})
    sys.exit(1)


def handle(event, headers):
    op = event.get("op", "echo")
    if op == "env":
        return {"pid": os.getpid(), "env": {name: os.environ.get(name) for name in ENV_SHOWN}, "cwd": os.getcwd()}
    if op == "headers":
        return {"pid": os.getpid(), "headers": dict(headers)}
    if op == "sleep":
        time.sleep(event["seconds"])
    if op == "crash":
        print("crashing now", flush=True)
        os._exit(event["code"])
    if op == "print":
        print(event["text"], flush=True)
        print("to stderr: " + event["text"], file=sys.stderr, flush=True)
    if op == "alloc":
        hog = b"x" * (event["mb"] * 1024 * 1024)  # touched, so resident
        time.sleep(2)
        return {"pid": os.getpid(), "len": len(hog)}
    if op == "spawn":
        child = subprocess.Popen(["sleep", "300"])
        return {"pid": os.getpid(), "child": child.pid}
    return {"pid": os.getpid(), "event": event}


def main():
    init()
    while True:
        response, body = call("GET", "/invocation/next")
        request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
        event = json.loads(body or b"{}")
        if os.environ.get("FAKE_RECORD"):
            with open(os.environ["FAKE_RECORD"], "a") as f:
                f.write(json.dumps(event) + "\n")
        if isinstance(event, dict) and event.get("op") == "error":
            call("POST", f"/invocation/{request_id}/error",
                 json.dumps({"errorType": "FakeError", "errorMessage": "it went wrong"}),
                 {"Lambda-Runtime-Function-Error-Type": "FakeError"})
            continue
        result = handle(event if isinstance(event, dict) else {"op": "echo", "value": event}, response.getheaders())
        call("POST", f"/invocation/{request_id}/response", json.dumps(result))


main()
