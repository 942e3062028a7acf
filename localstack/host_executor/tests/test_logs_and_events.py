"""What the function prints reaches its CloudWatch log stream, and an SQS
event source mapping invokes it."""

import json
import uuid

from conftest import client, invoke, wait_until


def test_printed_output_is_in_the_log_stream(lam, function):
    name, _ = function()
    marker = f"marker-{uuid.uuid4().hex}"
    response, _ = invoke(lam, name, {"op": "print", "text": marker})
    request_id = response["ResponseMetadata"]["RequestId"]
    logs = client("logs")

    def messages():
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        found = [event["message"] for event in events]
        return found if any(f"REPORT RequestId: {request_id}" in m for m in found) else []

    found = wait_until(messages, timeout_s=10)
    text = "".join(found)
    assert marker + "\n" in found and f"to stderr: {marker}\n" in found, text
    assert f"START RequestId: {request_id} Version: $LATEST" in text
    assert f"END RequestId: {request_id}" in text
    assert "init pid=" in text  # printed during init, before START
    assert text.index("init pid=") < text.index("START RequestId")


def test_an_sqs_event_source_mapping_invokes_the_function_once(lam, function, code_root):
    record = code_root / f"record-{uuid.uuid4().hex}.jsonl"
    name, _ = function(env={"FAKE_RECORD": str(record)})
    sqs = client("sqs")
    queue_url = sqs.create_queue(QueueName=f"esm-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # Sent first: an ESM that finds its queue empty backs off its polls (up to 10 s).
    sqs.send_message(QueueUrl=queue_url, MessageBody="hello from sqs")
    mapping = lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=name, BatchSize=1)
    try:
        assert wait_until(lambda: record.exists() and record.read_text(), timeout_s=20), "never invoked"
        # Deleted from the queue once the invoke succeeded, and not delivered again.
        assert wait_until(
            lambda: sqs.get_queue_attributes(
                QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"]
            == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"},
            timeout_s=10,
        )
        events = [json.loads(line) for line in record.read_text().splitlines()]
        assert len(events) == 1
        (message,) = events[0]["Records"]
        assert message["body"] == "hello from sqs" and message["eventSource"] == "aws:sqs"
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])
