"""gunicorn settings for Council in production, read by deploy/council.service.

Edit the values here, not the unit. Each setting says why it is what it is.
"""

import multiprocessing

# Loopback only: the reverse proxy (nginx.conf or Caddyfile here) is the one way in, and it
# terminates TLS. For a unix socket instead, bind "unix:/run/council/gunicorn.sock" and point the
# proxy at it; the unit's RuntimeDirectory= makes /run/council, and "umask" below lets the proxy's
# group (add www-data or caddy to the council group) connect.
bind = "127.0.0.1:8000"
# umask = 0o007

# Several processes, each serving one request at a time: the site keeps nothing in a worker's memory
# that another needs (sessions are in PostgreSQL, rate limits in Redis), so any worker on any host
# can serve any request. Two per core, plus one. A worker uses one or two database connections at a
# time and pools at most 15, so PostgreSQL's max_connections (100 by default) must cover that for
# every worker on every host, plus the timers' commands.
workers = multiprocessing.cpu_count() * 2 + 1
worker_class = "sync"
# The proxy buffers whole requests and responses, so a slow phone on a slow link never holds a worker.
# A summary's PDF is the slowest page; a worker silent for longer than this is restarted.
timeout = 60
graceful_timeout = 30
# Replace workers now and then, so a slow leak in a library never grows without bound.
max_requests = 2000
max_requests_jitter = 200
# Each worker connects to the database itself, after the fork.
preload_app = False

# No access log: a line pairing an address or a session with a path that posts a comment or a vote
# is a record of who took part (docs/threat-model.md). Council writes its own request lines
# (the endpoint, never the path or the address) to standard error, which systemd keeps in the journal.
accesslog = None
errorlog = "-"
loglevel = "warning"
proc_name = "council"

# The proxy's X-Forwarded-* headers are read by Council itself (COUNCIL_PROXY_HOPS=1); gunicorn
# believes X-Forwarded-Proto only from the proxy on loopback.
forwarded_allow_ips = "127.0.0.1,::1"
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
