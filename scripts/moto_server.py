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

import json

from moto.sns.models import sns_backends

host, port = sys.argv[1], int(sys.argv[2])
app = DomainDispatcherApplication(create_backend_app)
one_at_a_time = threading.Lock()


def sent_sms():
    """The text messages moto's SNS recorded for Publish(PhoneNumber=...): moto keeps them but
    has no API to read them back, and the notification tests must."""
    sent = []
    for _account, regions in sns_backends.items():
        for _region, backend in regions.items():
            for message_id, (phone, text) in backend.sms_messages.items():
                sent.append({"messageId": message_id, "phoneNumber": phone, "message": text})
    return sent


def serialized(environ, start_response):
    if environ.get("PATH_INFO") == "/_bnb/sms":
        start_response("200 OK", [("Content-Type", "application/json")])
        with one_at_a_time:
            return [json.dumps(sent_sms()).encode()]
    with one_at_a_time:
        # Consume the whole answer inside the lock: moto may compute it lazily.
        return [b"".join(app(environ, start_response))]


run_simple(host, port, serialized, threaded=True)
