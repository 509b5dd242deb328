"""moto_server with request handling serialized.

moto 5.2.1 rolls back a cancelled DynamoDB TransactWriteItems by restoring a snapshot of the whole table taken
when the transaction began, which erases conditional writes other server threads committed in the meantime
(a version claimed by one writer is silently handed out again). DynamoDB never does that: its conditional
writes and transactions are serializable. Handling one request at a time gives the tests a server with the
isolation DynamoDB guarantees; connections are still accepted concurrently. SQS requests are not serialized
(see serialized() below: long polling would stall the server).

The same snapshot is also taken once per item of the transaction rather than once per table: a 100-item
transaction on a table of 2,000 items deep-copies 200,000 items, seconds of CPU for one request. The copies are
all made before the first write, so they are identical; here each table is copied once per transaction. When the
transaction only puts (and checks) items, the copy shares the Item objects: moto's put_item never changes an
Item, it stores a new one, so restoring the copied key maps undoes the puts exactly. The rollback is the same;
its cost no longer grows with the table. The benchmarks use this server for DynamoDB for that reason.
"""
import sys
import threading

import copy
from collections import defaultdict

from werkzeug.serving import run_simple
from moto.dynamodb import models as dynamodb_models
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

host, port = sys.argv[1], int(sys.argv[2])
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


class _OncePerTransaction:
    """The `copy` module as moto's DynamoDB backend sees it: deepcopy returns one copy per object per transaction."""

    snapshots = None
    puts_only = False

    def __getattr__(self, name):
        return getattr(copy, name)

    def deepcopy(self, obj, memo=None):
        if self.snapshots is None or not isinstance(obj, dynamodb_models.Table):
            return copy.deepcopy(obj, memo)
        if id(obj) not in self.snapshots:
            self.snapshots[id(obj)] = self._keys_only(obj) if self.puts_only else copy.deepcopy(obj, memo)
        return self.snapshots[id(obj)]

    @staticmethod
    def _keys_only(table):
        snapshot = copy.copy(table)
        snapshot.items = defaultdict(dict, {h: dict(v) if isinstance(v, dict) else v for h, v in table.items.items()})
        return snapshot


_once = _OncePerTransaction()
dynamodb_models.copy = _once
_transact = dynamodb_models.DynamoDBBackend.transact_write_items


def _transact_write_items(self, transact_items, *args, **kwargs):
    _once.snapshots = {}  # requests are serialized (below), so one transaction runs at a time
    _once.puts_only = all(set(item) <= {"Put", "ConditionCheck"} for item in transact_items)
    try:
        return _transact(self, transact_items, *args, **kwargs)
    finally:
        _once.snapshots = None


dynamodb_models.DynamoDBBackend.transact_write_items = _transact_write_items


def serialized(environ, start_response):
    # SQS is left out: a long poll (ReceiveMessage with WaitTimeSeconds) waits inside the request for up to 20 s and
    # would hold every other request up; moto's SQS keeps its own state safely, and the isolation DynamoDB needs
    # (above) does not involve it. Requests are told apart by the service in their SigV4 credential scope.
    if "/sqs/aws4_request" in environ.get("HTTP_AUTHORIZATION", ""):
        return list(app(environ, start_response))
    with lock:
        # The whole exchange, body read and response produced, happens under the lock.
        return list(app(environ, start_response))


run_simple(host, port, serialized, threaded=True, use_reloader=False)
