"""`make bench`'s load runs report every answer that is not 2xx (tests/load/side_by_side.py).

wrk itself counts only statuses of 400 and above; a page that redirects a session it does not know
to the sign-in page would pass for a fast page. Served here by a small HTTP server on loopback.
"""

from __future__ import annotations

import shutil
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.load.side_by_side import run_wrk

pytestmark = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (Debian package wrk)")

STATUSES = {"/ok": 200, "/moved": 302, "/broken": 500}


class _Answers(BaseHTTPRequestHandler):
    cookies: set[str] = set()

    def do_GET(self):
        _Answers.cookies.add(self.headers.get("Cookie", ""))
        self.send_response(STATUSES[self.path])
        self.send_header("Location", "/ok")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args):
        pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # wrk drops its connections when its time is up, whatever they were doing.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture
def server():
    _Answers.cookies.clear()
    httpd = _Server(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_page_answering_2xx_has_no_failures_and_gets_the_session_cookie(server):
    run = run_wrk(f"{server}/ok", "council=signed-in", 1)
    assert run.requests > 0
    assert run.non_2xx == 0
    assert run.requests_per_second > 0 and 0 < run.p50_ms <= run.p99_ms
    assert _Answers.cookies == {"council=signed-in"}


@pytest.mark.parametrize("path", ["/moved", "/broken"])
def test_every_redirect_or_error_counts_as_not_2xx(server, path):
    run = run_wrk(f"{server}{path}", "", 1)
    assert run.requests > 0
    assert run.non_2xx == run.requests
