"""The sample reverse proxies in deploy/ (nginx.conf and Caddyfile), run for real in front of Council
served by gunicorn with deploy/gunicorn.conf.py, keep what their comments promise: TLS with Council's
own security headers and Secure cookies, one trusted hop of X-Forwarded-* (a visitor's own claims
dropped), bodies over 3 MiB refused by the proxy itself, no gzip, and no access log anywhere.

Each file is copied with only what cannot work in a test replaced (ports, certificate, log paths,
the upstream), by substitutions that fail when the text they expect is gone: whoever edits the
sample then sees whether the test still covers it. The visitor connects from 127.0.0.2, so the
address Council logs can only have come from the proxy's X-Forwarded-For. Needs the Debian packages
nginx-light (or nginx) and caddy; without them the tests skip, unless COUNCIL_REQUIRE_PROXIES=1.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import shutil
import socket
import ssl
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from council.accounts.models import Role
from council.extensions import db
from tests.conftest import PASSWORD, PeopleFactory, _sqlite_path, make_app
from tests.faults.support import Visitor, _control_socket_options, server_environment
from tests.load.servers import BIN, PROJECT_ROOT, free_port, self_signed_certificate, stop_process, wait_for_port

DEPLOY = PROJECT_ROOT / "deploy"
REQUIRE = "COUNCIL_REQUIRE_PROXIES"
#: The samples' own site name: kept, and sent as SNI and Host (nothing needs to resolve it).
SITE = "council.example.org"
#: Where the visitor connects from; the proxy reaches gunicorn from 127.0.0.1.
VISITOR = "127.0.0.2"
FORGED = "203.0.113.7"
#: In paths and query strings, so that any file that kept a request line can be found.
MARKER = "probe8123"
COORDINATOR = "sage"
#: Council's MAX_CONTENT_LENGTH, and the samples' ceiling.
LIMIT = 3 * 1024 * 1024
PROXIES = ["nginx", "caddy"]


def unavailable(reason: str) -> None:
    """Skip, or fail where CI says the proxies must be there."""
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{reason}, and {REQUIRE}=1 says it must be here")
    pytest.skip(reason)


def substitute(text: str, old: str, new: str, source: str) -> str:
    """Replace the one occurrence of ``old``; fail when the sample no longer has it exactly once."""
    found = text.count(old)
    assert found == 1, (
        f"{source} has {old!r} {found} times, not once: it changed, so this test must be "
        "updated to cover what it says now"
    )
    return text.replace(old, new)


def assert_writes_only_under(config: str, directory: Path, *, allowed: set[str], source: str) -> None:
    """Every path a line (not a comment) names is in the test's directory or known to be harmless, so a
    log added to the sample is written where the test looks for it."""
    for line in config.splitlines():
        code = line.split("#", 1)[0]
        for path in re.findall(r"(?<![\w:/.])(/[\w.-]+(?:/[\w.*-]+)+)", code):
            assert path.startswith(f"{directory}/") or path in allowed, (
                f"{source} names {path}, which this test does not cover: {line.strip()!r}"
            )


# --- A certificate, and a visitor speaking HTTPS ----------------------------------------------


def connect(port: int, context: ssl.SSLContext, timeout: float = 20) -> ssl.SSLSocket:
    """TLS to SITE (SNI, and the certificate checked against it) on a loopback port, from VISITOR."""
    raw = socket.create_connection(("127.0.0.1", port), timeout, source_address=(VISITOR, 0))
    return context.wrap_socket(raw, server_hostname=SITE)


class _SiteConnection(http.client.HTTPSConnection):
    def connect(self):
        self.sock = connect(self.port, self._context, self.timeout)


def upload(size: int) -> tuple[str, bytes]:
    """A form of ``size`` bytes in all: one file, which Council reads to the end (and so answers
    after the whole body, leaving the proxy nothing unsent), then refuses for want of a CSRF token."""
    boundary = "council-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{MARKER}.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", head + b"a" * (size - len(head) - len(tail)) + tail


def post_body(port: int, context: ssl.SSLContext, size: int, path: str) -> bytes:
    """A POST of ``size`` bytes; the head of the answer. The body is sent while the answer is read,
    as a browser does: a proxy that answers early and hangs up would otherwise take the answer with
    it (the reset that follows discards what was not read yet)."""
    content_type, body = upload(size)
    with connect(port, context) as connection:
        connection.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {SITE}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {size}\r\nConnection: close\r\n\r\n".encode()
        )
        connection.setblocking(False)
        answer, sent, body = b"", 0, memoryview(body)
        deadline = time.monotonic() + 20
        while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
            readable, writable, _ = select.select([connection], [connection] if sent < size else [], [], 0.5)
            if readable or connection.pending():
                try:
                    data = connection.recv(65536)
                except ssl.SSLWantReadError:  # only TLS's own records (session tickets)
                    data = None
                except OSError:
                    break
                if data == b"":
                    break
                answer += data or b""
            if writable:
                try:
                    sent += connection.send(body[sent : sent + 65536])
                except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                    pass
                except OSError:  # the proxy has stopped reading; its answer may still be on its way
                    sent = size
    assert answer, "the proxy answered nothing"
    return answer.split(b"\r\n\r\n", 1)[0]


# --- Council under gunicorn, as deploy/council.service runs it ----------------------------------


@dataclass
class Council:
    port: int
    log: Path

    def request_lines(self, since: int = 0) -> list[dict]:
        """Council's request log (logger council.requests: JSON lines on gunicorn's standard error)."""
        lines = []
        for line in self.log.read_text(errors="replace")[since:].splitlines():
            try:
                fields = json.loads(line)
            except ValueError:
                continue
            if isinstance(fields, dict) and "endpoint" in fields and "status" in fields:
                lines.append(fields)
        return lines

    def mark(self) -> int:
        return len(self.log.read_text(errors="replace"))


def _database(migrated: str, directory: Path, instance: Path) -> str:
    """A migrated SQLite file of this module's own, with one coordinator."""
    template = _sqlite_path(migrated)
    url = f"sqlite:///{directory / 'council.db'}"
    if template is not None:
        shutil.copyfile(template, directory / "council.db")
    else:  # the suite runs on PostgreSQL: migrate a file here instead
        from flask_migrate import upgrade

        with make_app(url, instance).app_context():
            upgrade()
            db.engine.dispose()
    app = make_app(url, instance)
    PeopleFactory(app).make(COORDINATOR, Role.COORDINATOR)
    with app.app_context():
        db.engine.dispose()
    return url


@pytest.fixture(scope="module")
def council(migrated, tmp_path_factory):
    """gunicorn with deploy/gunicorn.conf.py as it is, but two workers on a free port; production
    settings with COUNCIL_PROXY_HOPS=1, and the visitor's address in the request log."""
    if not (BIN / "gunicorn").exists():
        unavailable("gunicorn is not installed in this environment")
    directory = tmp_path_factory.mktemp("council-app")
    instance = directory / "instance"
    instance.mkdir()
    url = _database(migrated, directory, instance)
    # deploy/gunicorn.conf.py unchanged, plus the load tests' hook that marks each worker ready.
    config = directory / "gunicorn.conf.py"
    config.write_text(
        f"exec(compile(open({str(DEPLOY / 'gunicorn.conf.py')!r}).read(), "
        f"{str(DEPLOY / 'gunicorn.conf.py')!r}, 'exec'))\n"
        "from tests.load.gunicorn_ready import post_worker_init  # noqa: E402,F401\n"
    )
    ready = directory / "ready"
    ready.mkdir()
    env = server_environment(url, instance, ENVIRONMENT="production", PROXY_HOPS="1", LOG_IP_ADDRESSES="true")
    env.update(PYTHONPATH=str(PROJECT_ROOT), COUNCIL_LOAD_READY_DIR=str(ready))
    port, workers, log = free_port(), 2, directory / "gunicorn.log"
    with open(log, "wb") as output:
        server = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--config",
                str(config),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                *_control_socket_options(),
                "--chdir",
                str(PROJECT_ROOT),
                "council:create_app()",
            ],
            env=env,
            stdout=output,
            stderr=output,
        )
        try:
            wait_for_port(port, 30, server, "gunicorn")
            _wait(lambda: len(os.listdir(ready)) >= workers, 30, server, "gunicorn's workers")
            yield Council(port, log)
        finally:
            stop_process(server)


def _wait(condition, seconds: float, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, f"{what}: the process exited with status {process.returncode}"
        assert time.monotonic() < deadline, f"waited {seconds:.0f} s for {what}"
        time.sleep(0.05)


# --- The proxies ---------------------------------------------------------------------------


@dataclass
class Proxy:
    name: str
    https_port: int
    http_port: int
    directory: Path
    error_logs: list[Path]
    context: ssl.SSLContext

    def visitor(self) -> Visitor:
        """A browser at https://council.example.org, through this proxy."""
        return Visitor(
            self.https_port,
            connection=lambda timeout: _SiteConnection(SITE, self.https_port, context=self.context, timeout=timeout),
        )


def nginx_site(directory: Path, cert: Path, key: Path, https_port: int, http_port: int, upstream: int) -> str:
    source = "deploy/nginx.conf"
    text = (DEPLOY / "nginx.conf").read_text()
    for old, new in [
        ("    listen 80;\n    listen [::]:80;\n", f"    listen 127.0.0.1:{http_port};\n"),
        (
            "    listen 443 ssl http2;\n    listen [::]:443 ssl http2;\n",
            f"    listen 127.0.0.1:{https_port} ssl http2;\n",
        ),
        ("/etc/letsencrypt/live/council.example.org/fullchain.pem;", f"{cert};"),
        ("/etc/letsencrypt/live/council.example.org/privkey.pem;", f"{key};"),
        ("error_log /var/log/nginx/council-error.log ", f"error_log {directory}/council-error.log "),
        ("server 127.0.0.1:8000 fail_timeout=0;", f"server 127.0.0.1:{upstream} fail_timeout=0;"),
    ]:
        text = substitute(text, old, new, source)
    assert_writes_only_under(
        text, directory, allowed={"/var/www/letsencrypt", "/.well-known/acme-challenge"}, source=source
    )
    return text


def nginx_main(directory: Path) -> str:
    """The least a main configuration needs, everything it writes in ``directory``; the default
    access log (for a server block that does not turn it off) is there too, where the test looks."""
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "".join(
        f"    {kind}_temp_path {directory}/{kind}_temp;\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}pid {directory}/nginx.pid;\nerror_log {directory}/error.log;\nworker_processes 1;\n"
        f"events {{}}\nhttp {{\n    include /etc/nginx/mime.types;\n    default_type application/octet-stream;\n"
        f"    access_log {directory}/access.log;\n{temp}    include {directory}/council.conf;\n}}\n"
    )


def caddyfile(directory: Path, cert: Path, key: Path, https_port: int, http_port: int, upstream: int) -> str:
    source = "deploy/Caddyfile"
    text = (DEPLOY / "Caddyfile").read_text()
    for old, new in [
        (
            "\tservers {\n",
            f"\tadmin off\n\thttp_port {http_port}\n\thttps_port {https_port}\n\tdefault_bind 127.0.0.1\n"
            "\tservers {\n",
        ),
        ("\ncouncil.example.org {\n", f"\ncouncil.example.org {{\n\ttls {cert} {key}\n"),
        ("\treverse_proxy 127.0.0.1:8000 {\n", f"\treverse_proxy 127.0.0.1:{upstream} {{\n"),
    ]:
        text = substitute(text, old, new, source)
    assert_writes_only_under(text, directory, allowed=set(), source=source)
    return text


def caddy_environment(directory: Path) -> dict[str, str]:
    home = directory / "home"
    home.mkdir(exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
    }


def proxy_binary(name: str) -> str:
    binary = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if binary is None:
        unavailable(f"{name} is not installed (Debian package {'nginx-light' if name == 'nginx' else name})")
    return binary


@contextmanager
def _process(command: list[str], log: Path, env: dict[str, str] | None, port: int, what: str):
    with open(log, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=output, env=env)
        try:
            wait_for_port(port, 15, process, what)
            yield process
        finally:
            stop_process(process, 10)


@contextmanager
def running_proxy(name: str, directory: Path, upstream: int):
    """The sample for ``name``, adapted into ``directory``, checked by the proxy, then serving."""
    binary = proxy_binary(name)
    cert, key = self_signed_certificate(directory, SITE, days=2)
    context = ssl.create_default_context(cafile=str(cert))
    https_port, http_port = free_port(), free_port()
    if name == "nginx":
        (directory / "council.conf").write_text(nginx_site(directory, cert, key, https_port, http_port, upstream))
        (directory / "nginx.conf").write_text(nginx_main(directory))
        command = [binary, "-p", str(directory), "-c", str(directory / "nginx.conf")]
        checked = subprocess.run([*command, "-t", "-q"], capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, f"nginx -t refused the sample:\n{checked.stderr}"
        with _process([*command, "-g", "daemon off;"], directory / "stderr.log", None, https_port, "nginx"):
            yield Proxy(
                name,
                https_port,
                http_port,
                directory,
                [directory / "council-error.log", directory / "error.log", directory / "stderr.log"],
                context,
            )
    else:
        env = caddy_environment(directory)
        (directory / "Caddyfile").write_text(caddyfile(directory, cert, key, https_port, http_port, upstream))
        config = ["--adapter", "caddyfile", "--config", str(directory / "Caddyfile")]
        checked = subprocess.run([binary, "validate", *config], capture_output=True, text=True, env=env, timeout=60)
        assert checked.returncode == 0, f"caddy validate refused the sample:\n{checked.stderr}"
        # Caddy's own log (standard error, the journal under systemd) is its error log.
        with _process([binary, "run", *config], directory / "caddy.log", env, https_port, "caddy"):
            yield Proxy(name, https_port, http_port, directory, [directory / "caddy.log"], context)


@pytest.fixture(scope="module", params=PROXIES)
def proxy(request, council, tmp_path_factory):
    with running_proxy(request.param, tmp_path_factory.mktemp(f"proxy-{request.param}"), council.port) as running:
        yield running


def assert_no_traces(proxy: Proxy) -> None:
    """No file the proxy has (its logs, temporary files, Caddy's data) names a request's path or address."""
    traces = (MARKER, VISITOR, FORGED)
    for path in sorted(proxy.directory.rglob("*")):
        if path.is_file() and path.stat().st_size:
            content = path.read_bytes().decode("utf-8", "replace")
            found = [trace for trace in traces if trace in content]
            kind = "error log" if path in proxy.error_logs else "file"
            assert not found, f"{proxy.name}'s {kind} {path.name} holds {found}:\n{content[-2000:]}"


# --- What the comments promise --------------------------------------------------------------


def test_caddy_validates_the_unchanged_caddyfile(tmp_path):
    binary = proxy_binary("caddy")
    checked = subprocess.run(
        [binary, "validate", "--adapter", "caddyfile", "--config", str(DEPLOY / "Caddyfile")],
        capture_output=True,
        text=True,
        env=caddy_environment(tmp_path),
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr


def test_a_page_arrives_over_https_with_councils_headers_and_a_secure_cookie(proxy):
    page = proxy.visitor().request("GET", f"/login?next=/{MARKER}", headers={"Accept-Encoding": "gzip, br"})
    assert page.status == 200
    assert page.headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains", (
        "Council saw the request as HTTPS"
    )
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    cookies = page.headers.get_all("Set-Cookie")
    assert sorted(cookie.split("=")[0] for cookie in cookies) == ["__Host-council", "__Host-council-state"]
    for cookie in cookies:
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
        assert {"secure", "httponly", "path"} <= attributes and "domain" not in attributes
    assert page.headers["Content-Encoding"] is None, "no compression (BREACH)"
    if proxy.name == "nginx":
        assert page.headers["Server"] == "nginx", "server_tokens off: no version"


def test_council_builds_https_links_on_the_sites_host_whatever_the_visitor_claims(proxy, council):
    visitor = proxy.visitor()
    signed_in = visitor.submit("/login", {"login_name": COORDINATOR, "password": PASSWORD})
    assert signed_in.status == 303, "signing in works over HTTPS with the Secure __Host- cookie"
    forged = {
        "X-Forwarded-Proto": "http",
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-For": FORGED,
        "Forwarded": f"for={FORGED};proto=http;host=evil.example",
    }
    created = visitor.submit("/admin/invitations", {"role": "advisor", "label": ""}, headers=forged)
    assert created.status == 200, created.text[:300]
    link = urlsplit(re.search(r'id="invitation-link" type="text" readonly value="([^"]+)"', created.text).group(1))
    assert (link.scheme, link.hostname) == ("https", SITE), link.geturl()
    assert link.path.startswith("/register/")
    assert "Strict-Transport-Security" in created.headers


def test_council_sees_the_visitors_address_not_the_one_they_claim(proxy, council):
    since = council.mark()
    page = proxy.visitor().request(
        "GET", f"/login?{MARKER}=address", headers={"X-Forwarded-For": FORGED, "X-Real-IP": FORGED}
    )
    assert page.status == 200
    (line,) = [fields for fields in council.request_lines(since) if fields["endpoint"] == "accounts.login"]
    assert line["ip"] == VISITOR, f"Council logged {line['ip']!r}, not the visitor's {VISITOR}"


def test_a_body_over_three_mebibytes_is_refused_by_the_proxy_itself(proxy, council):
    since = council.mark()
    head = post_body(proxy.https_port, proxy.context, LIMIT + 1, f"/login?{MARKER}=large")
    assert head.split(b" ", 2)[1] == b"413", head
    # A request gunicorn sees leaves a line in Council's log before its answer leaves: one after it
    # shows the log is current, and it is the only one.
    assert proxy.visitor().request("GET", "/login").status == 200
    lines = council.request_lines(since)
    assert [(fields["method"], fields["status"]) for fields in lines] == [("GET", 200)], lines


def test_a_body_just_under_three_mebibytes_reaches_council(proxy, council):
    # The ceiling is Council's own, not lower (nginx's default is 1 MiB): Council gets the request,
    # reads it to the end and answers it (400: the form has no CSRF token). One byte under, since
    # under gunicorn Werkzeug refuses a body of exactly MAX_CONTENT_LENGTH itself.
    since = council.mark()
    head = post_body(proxy.https_port, proxy.context, LIMIT - 1, "/login")
    assert head.split(b" ", 2)[1] == b"400", head
    lines = council.request_lines(since)
    assert [(fields["method"], fields["endpoint"], fields["status"]) for fields in lines] == [
        ("POST", "accounts.login", 400)
    ], lines


def test_the_proxy_keeps_no_access_log(proxy, council):
    visitor = proxy.visitor()
    visitor.request("GET", f"/policies/{MARKER}", headers={"X-Forwarded-For": FORGED})
    visitor.request("GET", f"/login?{MARKER}=query")
    post_body(proxy.https_port, proxy.context, LIMIT + 1, f"/login?{MARKER}=large")
    plain = http.client.HTTPConnection("127.0.0.1", proxy.http_port, timeout=10, source_address=(VISITOR, 0))
    plain.request("GET", f"/polls/{MARKER}", headers={"Host": SITE})
    plain.getresponse().read()
    plain.close()
    time.sleep(0.3)  # a log line is written as a request ends
    assert_no_traces(proxy)


def test_plain_http_is_sent_to_https(proxy):
    plain = http.client.HTTPConnection("127.0.0.1", proxy.http_port, timeout=10, source_address=(VISITOR, 0))
    try:
        plain.request("GET", f"/login?{MARKER}=plain", headers={"Host": SITE})
        answer = plain.getresponse()
        answer.read()
    finally:
        plain.close()
    # nginx: the port-80 server's "return 301". Caddy: its automatic redirect, on http_port.
    assert answer.status == (301 if proxy.name == "nginx" else 308)
    location = urlsplit(answer.headers["Location"])
    assert (location.scheme, location.hostname, location.path, location.query) == (
        "https",
        SITE,
        "/login",
        f"{MARKER}=plain",
    )


@pytest.mark.parametrize("name", PROXIES)
def test_gunicorn_down_leaves_no_address_or_path_in_the_proxys_log(name, tmp_path):
    # While gunicorn is down or restarting every request fails at the proxy, which logs an error.
    with running_proxy(name, tmp_path, free_port()) as down:
        answer = down.visitor().request("GET", f"/polls/{MARKER}?{MARKER}=1", headers={"X-Forwarded-For": FORGED})
        assert answer.status == 502
        time.sleep(0.3)
    assert_no_traces(down)
