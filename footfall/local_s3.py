"""The local S3 endpoint of `make run`, the test stack and the replay benchmark: moto's S3 under gunicorn.

`moto_server` serves through werkzeug's development server, which answers every request with
`Connection: close`, so each chunk upload paid a new TCP connection and a new server thread. Under
gunicorn connections are kept alive. One worker process only: moto keeps its buckets in that
process's memory, which its threads share. Four threads: more only contend for the GIL (at 200
uploads/s, p99 latency was lower with 4 than with 16).

    gunicorn -w 1 -k gthread --threads 4 -b 127.0.0.1:9000 footfall.local_s3:app
"""
import gc

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.test import Client


class S3Dispatcher(DomainDispatcherApplication):
    """moto's dispatcher for a server that is only S3: every request but moto's own API goes to
    the S3 app. The stock one finds the service of each request under one lock for all threads,
    listing moto's ~150 package folders (`os.listdir` and an `isdir` each) to do so: an eighth of
    the server's CPU per chunk put."""

    def __init__(self):
        super().__init__(create_backend_app)
        self.s3 = self.app_instances["s3"] = create_backend_app("s3")

    def get_application(self, environ):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/moto-api") or path == "/favicon.ico":
            return super().get_application(environ)
        return self.s3


app = S3Dispatcher()
# moto builds its S3 backend on the first request: build it now (a ListBuckets), then exempt all
# that from garbage collection, as footfall.gunicorn_conf does for our services: a full collection
# otherwise walks it while every thread waits (bench/HISTORY.md#garbage-collection-pauses).
Client(app).get("/", headers={"Host": "127.0.0.1"})
gc.freeze()
