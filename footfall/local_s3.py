"""The local S3 endpoint of `make run`, the test stack and the replay benchmark: moto's S3 under gunicorn.

`moto_server` serves through werkzeug's development server, which answers every request with
`Connection: close`, so each chunk upload paid a new TCP connection and a new server thread. Under
gunicorn connections are kept alive. One worker process only: moto keeps its buckets in that
process's memory, which its threads share. Four threads: more only contend for the GIL (at 200
uploads/s, p99 latency was lower with 4 than with 16).

    gunicorn -w 1 -k gthread --threads 4 -b 127.0.0.1:9000 footfall.local_s3:app
"""
from moto.server import DomainDispatcherApplication, create_backend_app

app = DomainDispatcherApplication(create_backend_app)
