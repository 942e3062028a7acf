"""moto server with two fixes to DynamoDB TransactWriteItems, for tel's tests,
and Step Functions state machines that run (moto only records them unless
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
