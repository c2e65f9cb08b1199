"""moto's server, handling one request at a time.

moto rolls back a failed DynamoDB transaction by restoring a snapshot of every table it
touched, which also erases what other requests wrote meanwhile. DynamoDB isolates
transactions from each other; serializing requests gives moto the same isolation, so
concurrency tests against it test bnb, not moto's threads.

    python scripts/moto_server.py 127.0.0.1 PORT
"""

import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

host, port = sys.argv[1], int(sys.argv[2])
app = DomainDispatcherApplication(create_backend_app)
one_at_a_time = threading.Lock()


def serialized(environ, start_response):
    with one_at_a_time:
        # Consume the whole answer inside the lock: moto may compute it lazily.
        return [b"".join(app(environ, start_response))]


run_simple(host, port, serialized, threaded=True)
