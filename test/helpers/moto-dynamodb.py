"""
moto's DynamoDB, served one request at a time (test/helpers/backends.ts, startMotoDynamo).

Two changes to `moto_server`, both about how it runs, not what it answers:
- One request at a time (`threaded=False`). On many threads moto checks a transaction's
  conditions and writes its items without a lock: two conditional writes of one item both
  succeeded. One at a time, every request is atomic, as DynamoDB's are.
- TransactWriteItems without copying the table. moto copies every table a transaction names
  (copy.deepcopy, once per item) to roll back if a condition fails, which makes each transaction
  cost the size of the table: seconds once it holds a few thousand items. Here every condition is
  checked first, and a failed one cancels the transaction before anything is written (the same
  reasons, in the same order); a transaction whose conditions all hold is then moto's own, with
  nothing to roll back. Served one at a time, nothing changes between the check and the writes.
"""
import copy
import sys

from werkzeug.serving import run_simple

import moto.dynamodb.models as models
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import TransactionCanceledException
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

moto_transact_write_items = models.DynamoDBBackend.transact_write_items


class NoCopy:
    """Stands in for the copy module inside moto's transaction: nothing to roll back."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, *args, **kwargs):
        return value


def transact_write_items(self, transact_items):
    reasons = []
    for entry in transact_items:
        op_type, op = next(iter(entry.items()))
        table = self.get_table(op["TableName"])
        if op_type == "Put":
            key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = op["Item"][table.range_key_attr]
        else:
            key = op["Key"]
        condition = op.get("ConditionExpression")
        holds = condition is None or get_filter_expression(
            condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        ).expr(self.get_item(op["TableName"], key))
        reasons.append((None, None, None) if holds else ("ConditionalCheckFailed", "The conditional request failed", None))
    if any(code is not None for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)
    models.copy = NoCopy()
    try:
        return moto_transact_write_items(self, transact_items)
    finally:
        models.copy = copy


models.DynamoDBBackend.transact_write_items = transact_write_items

run_simple("127.0.0.1", int(sys.argv[1]), DomainDispatcherApplication(create_backend_app), threaded=False)
