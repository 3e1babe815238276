"""The development server's own flushes: ``make run`` has no cron, so nothing would ever run the tick.

Only when ENVIRONMENT is "development" and the app is not under test: a daemon thread, started by the
first request the server answers (so ``flask db upgrade`` and other commands start none), flushes the
pool every MIX_DEVELOPMENT_FLUSH_SECONDS. Production runs ``flask council tick`` from cron instead.
"""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask

from council.mix import service as mix

_started = threading.Lock()
_log = logging.getLogger("council.mix")


def init_development_flusher(app: Flask) -> None:
    if app.config["ENVIRONMENT"] != "development" or app.testing:
        return

    @app.before_request
    def _start_once() -> None:
        if _started.acquire(blocking=False):  # never released: one thread per process
            threading.Thread(target=_run, args=(app,), name="council-mix-flush", daemon=True).start()


def _run(app: Flask) -> None:
    while True:
        time.sleep(float(app.config["MIX_DEVELOPMENT_FLUSH_SECONDS"]))
        try:
            with app.app_context():
                result = mix.flush_now()
        except Exception:  # keep flushing later; the envelopes wait, nothing is lost
            _log.exception("the development flush failed; it is tried again later")
            continue
        if result.applied or result.dropped:
            _log.info("mix flushed: %d applied, %d dropped", result.applied, result.dropped)
