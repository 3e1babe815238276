"""The development server's own flushes: ``make run`` has no cron, so nothing would ever run the tick.

Only when ENVIRONMENT is "development" and the app is not under test: a daemon thread, started by the
first request the server answers (so ``flask db upgrade`` and other commands start none), flushes the
pool every MIX_DEVELOPMENT_FLUSH_SECONDS. Production runs ``flask council tick`` from cron instead.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask

from council.mix import service as mix

_log = logging.getLogger("council.mix")
#: ``app.extensions[STOP]``: an event that ends the app's flush thread once set (tests set it).
STOP = "council_mix_development_flusher"


def init_development_flusher(app: Flask) -> None:
    if app.config["ENVIRONMENT"] != "development" or app.testing:
        return
    stop = app.extensions[STOP] = threading.Event()
    started = threading.Lock()

    @app.before_request
    def _start_once() -> None:
        if started.acquire(blocking=False):  # never released: one thread per app
            threading.Thread(target=_run, args=(app, stop), name="council-mix-flush", daemon=True).start()


def _run(app: Flask, stop: threading.Event) -> None:
    while not stop.wait(float(app.config["MIX_DEVELOPMENT_FLUSH_SECONDS"])):
        try:
            with app.app_context():
                result = mix.flush_now(daily=True)
        except Exception:  # keep flushing later; the envelopes wait, nothing is lost
            _log.exception("the development flush failed; it is tried again later")
            continue
        if result.applied or result.dropped:
            _log.info("mix flushed: %d applied, %d dropped", result.applied, result.dropped)
