"""Gunicorn settings shared by every HTTP service (`gunicorn -c python:footfall.gunicorn_conf …`).

gthread workers keep SDK connections alive and let one process overlap broker confirms and
database waits; 2 workers × 8 threads suits a 2-core pod. pika connections are opened lazily
inside each thread, after the fork, never at import. METRICS_BIND adds a second listener for
/metrics and detailed /readyz (footfall.web serves them there without the service token), so a
NetworkPolicy can open that port to monitoring and nothing else.
"""
import gc
import os
import shutil
import tempfile

bind = [os.environ.get("BIND", "127.0.0.1:8000")] + (
    [os.environ["METRICS_BIND"]] if os.environ.get("METRICS_BIND") else [])
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "8"))
keepalive = 75  # longer than typical load-balancer idle timeouts, so they close first
timeout = 30
graceful_timeout = 20  # below Kubernetes' 30 s grace period
# The worker heartbeat file must live on tmpfs, or a slow disk can stall workers (gunicorn docs).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
accesslog = None  # footfall.web logs one structured line per request instead
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Every service's master would open the same ~/.gunicorn/gunicorn.ctl, each replacing the last
# one's socket; nothing here uses gunicorn's control interface.
control_socket_disable = True


def on_starting(server):
    """Several workers serve /metrics in turn: prometheus-client's multiprocess mode makes each
    answer count every worker. Set in the master, so forked workers inherit it before they import
    prometheus_client (the app is not preloaded)."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="footfall-metrics-")
        server.footfall_metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]


def post_fork(server, worker):
    from footfall.web import configure_logging

    configure_logging(os.environ.get("LOG_LEVEL", "INFO"))


def post_worker_init(worker):
    """Exempt what the app built at start-up from garbage collection (gc.freeze, as Instagram does).

    botocore's service models, SQLAlchemy's metadata, pydantic's validators and Flask's routes are
    ~150,000 objects that live as long as the worker; a full collection walked them all while every
    thread of the worker waited, long enough to be a p99 by itself
    (bench/HISTORY.md#garbage-collection-pauses).
    """
    gc.freeze()


def child_exit(server, worker):
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if getattr(server, "footfall_metrics_dir", None):
        shutil.rmtree(server.footfall_metrics_dir, ignore_errors=True)
