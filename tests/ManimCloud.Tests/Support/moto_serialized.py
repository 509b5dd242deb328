"""moto_server with request handling serialized.

moto 5.2.1 rolls back a cancelled DynamoDB TransactWriteItems by restoring a snapshot of the whole table taken
when the transaction began, which erases conditional writes other server threads committed in the meantime
(a version claimed by one writer is silently handed out again). DynamoDB never does that: its conditional
writes and transactions are serializable. Handling one request at a time gives the tests a server with the
isolation DynamoDB guarantees; connections are still accepted concurrently.
"""
import sys
import threading

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

host, port = sys.argv[1], int(sys.argv[2])
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


def serialized(environ, start_response):
    with lock:
        # The whole exchange, body read and response produced, happens under the lock.
        return list(app(environ, start_response))


run_simple(host, port, serialized, threaded=True, use_reloader=False)
