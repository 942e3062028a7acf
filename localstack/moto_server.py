"""moto server with two fixes to DynamoDB TransactWriteItems, for tel's tests,
EventBridge, SQS, DynamoDB answers, stream reads and request dispatch without the costs
moto adds that grow with a run (below), and Step Functions state machines
that run (moto only records them unless
told otherwise), so a local state machine can drive tel.

moto (5.2.5) backs up every table a transaction touches with a deep copy of
the *whole table*, once per transaction item, and restores those copies if
the transaction is cancelled. On tel's single table that makes every
transition cost O(items stored), so the emulator slows down as a run goes on;
and because nothing is locked, a cancelled transaction can restore a copy
taken before another thread's write, losing that write, and two transactions
can both pass the same condition.

Here a transaction backs up only the items it touches and runs under a lock
that every DynamoDB write also takes: transactions are atomic and isolated
from other writes, as in DynamoDB, and cost what they touch.

Usage: python localstack/moto_server.py -H 127.0.0.1 -p 5000
"""

import copy
import functools
import sys
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.core.config import default_user_config
from moto.server import main

WRITES = threading.RLock()


def _locked(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with WRITES:
            return method(*args, **kwargs)

    return wrapper


def _key_of(backend, op_type, op):
    table = backend.tables.get(op.get("TableName"))
    if table is None:
        return None, None
    if op_type == "Put":
        attrs = op.get("Item", {})
        key = {table.hash_key_attr: attrs.get(table.hash_key_attr)}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = attrs.get(table.range_key_attr)
    else:
        key = op.get("Key")
    if not key or any(v is None for v in key.values()):
        return None, None
    return op["TableName"], key


_original_transact = DynamoDBBackend.transact_write_items


def transact_write_items(self, transact_items):
    with WRITES:
        backups = []
        for item in transact_items:
            op_type, op = next(iter(item.items()))
            table_name, key = _key_of(self, op_type, op)
            if table_name is None:
                continue
            try:
                current = self.get_item(table_name, key)
            except Exception:  # an invalid key: the transaction itself reports it
                continue
            backups.append((table_name, key, copy.deepcopy(current.to_json()["Attributes"]) if current else None))
        # The original's whole-table "backup" becomes a reference: restoring it is a no-op.
        Table.__deepcopy__ = lambda table, memo: table
        try:
            return _original_transact(self, transact_items)
        except Exception:
            for table_name, key, attrs in reversed(backups):
                if attrs is None:
                    _original_delete(self, table_name, key)
                else:
                    _original_put(self, table_name, attrs)
            raise
        finally:
            del Table.__deepcopy__


_original_put = DynamoDBBackend.put_item
_original_delete = DynamoDBBackend.delete_item
DynamoDBBackend.put_item = _locked(DynamoDBBackend.put_item)
DynamoDBBackend.update_item = _locked(DynamoDBBackend.update_item)
DynamoDBBackend.delete_item = _locked(DynamoDBBackend.delete_item)
DynamoDBBackend.transact_write_items = transact_write_items

# EventBridge and SQS at the cost of what they touch. moto (5.2.5) parses
# its default input template's eight JSONPaths with a fresh yacc parser for
# every event and target (about 1 ms each: 9 ms an event). Every send to a
# queue builds the queue's whole attribute map, counting its messages with
# two clock readings per message, and every message received builds it
# three times more to read the retention period: O(messages) per call,
# seconds a batch in a burst of a thousand. The parsed paths and attribute
# names are kept; the counts read the clock once per pass; the retention
# period is read as itself. Same answers, same messages.
import jsonpath_ng.ext  # noqa: E402
import moto.sqs.models  # noqa: E402
from moto.core.utils import unix_time, unix_time_millis  # noqa: E402
from moto.sqs.models import Queue, SQSBackend  # noqa: E402

jsonpath_ng.ext.parse = functools.lru_cache(maxsize=1024)(jsonpath_ng.ext.parse)
moto.sqs.models.camelcase_to_underscores = functools.lru_cache(maxsize=1024)(
    moto.sqs.models.camelcase_to_underscores
)


def _retained(self, queue_name, message):
    retention_period = self.get_queue(queue_name).message_retention_period
    return retention_period + message.sent_timestamp / 1000 > unix_time()


SQSBackend.is_message_valid_based_on_retention_period = _retained


def _visible(self):
    now = unix_time_millis()
    return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]


def _delayed(self):
    now = unix_time_millis()
    return sum(1 for m in self._messages if now < m.delayed_until)


def _not_visible(self):
    now = unix_time_millis()
    return sum(1 for m in self._messages if not now > m.visible_at)


Queue.messages = property(_visible)
Queue.approximate_number_of_messages_delayed = property(_delayed)
Queue.approximate_number_of_messages_not_visible = property(_not_visible)

# And every request lists moto's package directory (under the server's one
# lock) and inspects its handler's class for method names: both are the
# same for the life of the process, so they are read once.
import moto.backends  # noqa: E402
import moto.core.responses  # noqa: E402

_MODULES = tuple(moto.backends.list_of_moto_modules())
moto.backends.list_of_moto_modules = lambda: _MODULES
moto.core.responses.method_names_from_class = functools.lru_cache(maxsize=None)(
    moto.core.responses.method_names_from_class
)


# A change stream's records are stored in their wire shape already, but
# moto's model-driven serializer walked every attribute of every image
# again: GetRecords of 100 task writes took 780 ms. They are written as
# JSON directly (timestamps as epoch seconds, binaries in base64, as the
# serializer did).
from moto.dynamodb.models.utilities import dynamo_json_dump  # noqa: E402
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler  # noqa: E402


def _get_records(self):
    limit = self._get_param("Limit")
    result = self.backend.get_records(self._get_param("ShardIterator"), limit or 1000)
    return dynamo_json_dump(result)


DynamoDBStreamsHandler.get_records = _get_records


# The same serializer walked every item of every DynamoDB item operation's
# answer, which moto also holds in the wire shape already (binaries as
# bytes): those answers are written as JSON directly too. Other operations
# (tables, backups, TTL) keep the serializer, which renames and filters
# their members.
from moto.dynamodb.responses import DynamoHandler, DynamoResult  # noqa: E402


def _as_json(method):
    @functools.wraps(method)
    def answer(self):
        result = method(self)
        if type(result) is not DynamoResult:
            return result
        self.response_headers["Content-Type"] = "application/x-amz-json-1.0"
        return dynamo_json_dump({k: v for k, v in result.result.items() if v is not None})

    return answer


for _operation in ("get_item", "put_item", "update_item", "delete_item", "query", "scan", "batch_get_item"):
    setattr(DynamoHandler, _operation, _as_json(getattr(DynamoHandler, _operation)))


# State machines run their states (the callback pattern included), as in AWS.
default_user_config["stepfunctions"]["execute_state_machine"] = True


def sent_mail(request, full_url, headers):
    """The mail SES sent, in LocalStack's `/_aws/ses` shape, so tests read
    either engine's the same way (moto keeps it in its SES backend only)."""
    import json

    from moto.ses.models import ses_backends

    messages = []
    for account_id, regions in ses_backends.items():
        for region, backend in regions.items():
            for m in backend.sent_messages:
                if not hasattr(m, "subject"):
                    continue  # templated and raw mail: tel sends neither
                messages.append({
                    "Id": m.id,
                    "Region": region,
                    "Source": m.source,
                    "Destination": {"ToAddresses": m.destinations.get("ToAddresses", [])},
                    "Subject": m.subject,
                    "Body": {"text_part": m.body, "html_part": None},
                })
    return 200, {"Content-Type": "application/json"}, json.dumps({"messages": messages})


from moto.moto_api._internal import urls as moto_api_urls  # noqa: E402

moto_api_urls.url_paths["{0}/moto-api/ses/sent$"] = sent_mail

if __name__ == "__main__":
    main(sys.argv[1:])
