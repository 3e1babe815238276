"""A request whose body never ends: gunicorn's sync workers cut it off within their timeout and the
site keeps serving; a declared length over the limit is refused at once, the body unread."""

from __future__ import annotations

import socket
import threading
import time

from tests.faults.helpers import assert_error_page
from tests.faults.support import Visitor, gunicorn, server_environment

TIMEOUT = 3
MARKER = "probe7311"


def _slow_client(port: int, *, trickle: bool, results: dict, name: str) -> None:
    """Headers promising a megabyte, then a byte every half second (trickle) or nothing at all;
    records how long the server kept the connection open."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(
            f"POST /login?{MARKER}=1 HTTP/1.1\r\nHost: council.test\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000\r\n\r\n"
            "login_name=".encode()
        )
        connection.settimeout(0.5)
        answer = b""
        while time.monotonic() - started < 25:
            try:
                chunk = connection.recv(4096)
                if not chunk:
                    break
                answer += chunk
            except TimeoutError:
                if trickle:
                    try:
                        connection.sendall(b"a")
                    except OSError:
                        break
            except OSError:
                break
    results[name] = (time.monotonic() - started, answer)


def test_a_body_that_never_ends_is_cut_off_and_the_site_keeps_serving(app, database_url, tmp_path):
    env = server_environment(database_url, tmp_path)
    log = tmp_path / "gunicorn.log"
    with gunicorn(env, log, workers=3, timeout=TIMEOUT) as server:
        results: dict = {}
        clients = [
            threading.Thread(
                target=_slow_client, args=(server.port,), kwargs={"trickle": trickle, "results": results, "name": name}
            )
            for name, trickle in (("trickling", True), ("stalled", False))
        ]
        for client in clients:
            client.start()
        time.sleep(0.5)
        # Two workers are held; the third still answers at once.
        started = time.monotonic()
        assert Visitor(server.port).get("/login", timeout=5).status == 200
        assert time.monotonic() - started < 2
        for client in clients:
            client.join(30)
        for name in ("trickling", "stalled"):
            held, _answer = results[name]
            assert held < TIMEOUT + 4, f"the {name} request was held {held:.1f} s"
        # The killed workers are replaced and the site answers as before.
        for _ in range(4):
            assert Visitor(server.port).get("/login", timeout=10).status == 200
    output = log.read_text()
    assert "WORKER TIMEOUT" in output
    assert MARKER not in output, "gunicorn's error line about the request names no path or query string"


def test_a_declared_length_over_the_limit_is_refused_at_once_without_reading_the_body(app, database_url, tmp_path):
    # In the app: Werkzeug compares Content-Length with MAX_CONTENT_LENGTH before it reads anything.
    class Unreadable:
        def read(self, *_args):
            raise AssertionError("the body was read")

        readline = read

    too_large = app.config["MAX_CONTENT_LENGTH"] + 1
    response = app.test_client().post(
        "/login",
        content_type="application/x-www-form-urlencoded",
        environ_overrides={"wsgi.input": Unreadable(), "CONTENT_LENGTH": str(too_large)},
        headers={"Accept-Language": "fr"},
    )
    assert response.status_code == 413
    assert_error_page(app, response.get_data(as_text=True), 413, "fr")

    # Through gunicorn: headers only, then silence; the answer comes without waiting for the body.
    env = server_environment(database_url, tmp_path)
    with gunicorn(env, tmp_path / "gunicorn.log", workers=1, timeout=30) as server:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
            connection.sendall(
                f"POST /login HTTP/1.1\r\nHost: council.test\r\nContent-Type: "
                f"application/x-www-form-urlencoded\r\nContent-Length: {too_large}\r\n\r\n".encode()
            )
            answer = connection.recv(200)
        assert answer.startswith(b"HTTP/1.1 413"), answer
        assert time.monotonic() - started < 3
