"""gunicorn settings for the load tests (``-c python:tests.load.gunicorn_ready``).

A worker takes connections only once it has loaded the app, but the port is open as soon as
the master has bound it; so each worker leaves a mark when it is ready, and the test starts its
clock only when every worker of every server has.
"""

import os
from pathlib import Path


def post_worker_init(worker):
    Path(os.environ["COUNCIL_LOAD_READY_DIR"], str(worker.pid)).touch()
