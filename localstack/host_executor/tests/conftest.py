"""LocalStack on a port of its own (TEL_LOCALSTACK_PORT, 4610 by default),
started and stopped by the project's script, and functions whose code is a
hot-reload directory holding the fake bootstrap."""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

ROOT = Path(__file__).resolve().parents[3]
PORT = os.environ.get("TEL_LOCALSTACK_PORT", "4610")
ENDPOINT = f"http://127.0.0.1:{PORT}"
FAKE = Path(__file__).with_name("fake_bootstrap.py")
ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def emulator(command: str) -> None:
    env = dict(os.environ, TEL_ENGINE="localstack", TEL_LOCALSTACK_PORT=PORT)
    subprocess.run([str(ROOT / "localstack/emulator.sh"), command], env=env, check=True, stdout=subprocess.DEVNULL)


def localstack_pid() -> int:
    return int((ROOT / f".tel/localstack-{PORT}.pid").read_text())


def client(service: str, config: Config | None = None):
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=config,
    )


def pytest_collection_modifyitems(items):
    # The shutdown tests stop LocalStack: whatever else runs goes first.
    items.sort(key=lambda item: item.module.__name__.endswith("test_shutdown"))


@pytest.fixture(scope="session", autouse=True)
def localstack():
    emulator("start")
    yield
    emulator("stop")


@pytest.fixture(scope="session")
def lam():
    return client("lambda")


@pytest.fixture(scope="session")
def code_root(tmp_path_factory):
    return tmp_path_factory.mktemp("functions")


def write_bootstrap(directory: Path) -> None:
    """The fake bootstrap, run by this venv's Python."""
    directory.mkdir(parents=True, exist_ok=True)
    bootstrap = directory / "bootstrap"
    bootstrap.write_text(f"#!{sys.executable}\n" + FAKE.read_text())
    bootstrap.chmod(0o755)


@pytest.fixture
def function(lam, code_root):
    """make(timeout=3, memory=128, env=None, bootstrap=True) -> (name, code dir)."""
    created = []

    def make(timeout=3, memory=128, env=None, bootstrap=True):
        name = f"fake-{uuid.uuid4().hex[:10]}"
        directory = code_root / name
        if bootstrap:
            write_bootstrap(directory)
        else:
            directory.mkdir()
        lam.create_function(
            FunctionName=name,
            Runtime="provided.al2023",
            Handler="bootstrap",
            Role=ROLE,
            Code={"S3Bucket": "hot-reload", "S3Key": str(directory)},
            Timeout=timeout,
            MemorySize=memory,
            Environment={"Variables": env or {}},
        )
        created.append(name)
        wait_active(lam, name)
        return name, directory

    yield make
    # One try each: after the shutdown tests nothing answers, and retries would wait.
    cleanup = client("lambda", Config(retries={"max_attempts": 1}))
    for name in created:
        try:
            cleanup.delete_function(FunctionName=name)
        except (cleanup.exceptions.ResourceNotFoundException, EndpointConnectionError):
            pass  # gone, or LocalStack is (the shutdown tests)


def wait_active(lam, name: str) -> None:
    # Polled faster than boto3's waiter, which sleeps a second between tries.
    for _ in range(100):
        state = lam.get_function_configuration(FunctionName=name)["State"]
        if state == "Active":
            return
        assert state == "Pending", state
        time.sleep(0.05)
    raise AssertionError(f"{name} never became active")


def invoke(lam, name: str, event: dict, **kwargs) -> tuple[dict, dict]:
    """(response, parsed payload)."""
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event), **kwargs)
    return response, json.loads(response["Payload"].read())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is as good as gone (its parent has yet to reap it); one that
    # exits between the two looks is gone too.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def processes_under(directory: Path) -> list[str]:
    """Command lines of live processes that name a path under directory."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(directory) in cmdline and alive(int(entry)):
            found.append(f"{entry}: {cmdline}")
    return found


def wait_until(predicate, timeout_s: float, interval_s: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(interval_s)
    return predicate()

