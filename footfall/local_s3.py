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

app = DomainDispatcherApplication(create_backend_app)
# moto builds its S3 backend on the first request: build it now (a ListBuckets), then exempt all
# that from garbage collection. A full collection otherwise walked it while every thread waited
# (76 ms in 3,000 puts; 11 ms frozen), as footfall.gunicorn_conf does for our services.
Client(app).get("/", headers={"Host": "127.0.0.1"})
gc.freeze()
