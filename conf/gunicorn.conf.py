"""gunicorn settings for the vending gateway (`vendgw serve` passes this file).

Workers: gunicorn's asyncio worker with vendgw.serving in front of the WSGI application
(`vendgw.serving:application`). A connection costs a coroutine until its whole request has
arrived (headers within VENDGW_GUNICORN_HEADER_TIMEOUT, body within VENDGW_GUNICORN_BODY_TIMEOUT,
10 s each by default); then the request runs in one of `threads` threads of its worker. Slow or
silent clients therefore hold no process and no thread (sync workers must never face clients:
a few dripping connections took every one of them). See vendgw/serving.py for the why.

Override any value with GUNICORN_CMD_ARGS or the VENDGW_GUNICORN_* variables below.
"""

import multiprocessing
import os
import tomllib
from pathlib import Path

from vendgw.metrics import child_exit, on_starting  # noqa: F401 - gunicorn hooks: metrics dir
from vendgw.serving import die_with_master

bind = os.environ.get("VENDGW_SERVER_BIND", "127.0.0.1:8080")
workers = int(os.environ.get("VENDGW_GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "vendgw.serving.Worker"
# Requests of one worker run in this many threads at once (each holds one database connection
# while it runs: keep it within the engine's pool, 10 by default).
threads = int(os.environ.get("VENDGW_GUNICORN_THREADS", "4"))
asgi_loop = "asyncio"
asgi_lifespan = "off"
timeout = int(os.environ.get("VENDGW_GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5

# The control socket (gunicornc) defaults to one path per user ($XDG_RUNTIME_DIR/gunicorn.ctl):
# a second node on the host would take it over from the first. Off unless a path of its own is
# given per node (the systemd unit gives one under its RuntimeDirectory).
if os.environ.get("VENDGW_GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["VENDGW_GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True

# Behind a load balancer or TLS terminator: with PROXY protocol (HAProxy `send-proxy-v2`) from
# these addresses, REMOTE_ADDR (terminal address allowlists, the login throttle) is the client's,
# not the proxy's. X-Forwarded-For is never trusted for that.
proxy_protocol = os.environ.get("VENDGW_GUNICORN_PROXY_PROTOCOL", "off")
proxy_allow_ips = os.environ.get("VENDGW_GUNICORN_PROXY_ALLOW_IPS", "127.0.0.1,::1")


def post_fork(server, worker):  # gunicorn calls it in each new worker
    # Workers die with their master, even when it is killed with SIGKILL (issue 12, defect 9).
    die_with_master(server.pid)


# Headers are small in XMLVend; the body limit (64 KiB) is enforced by the application.
limit_request_line = 4096
limit_request_fields = 50
limit_request_field_size = 8190
with open(Path(__file__).with_name("logging.toml"), "rb") as _fh:
    logconfig_dict = tomllib.load(_fh)
accesslog = os.environ.get("VENDGW_GUNICORN_ACCESSLOG", "-")
errorlog = "-"
loglevel = os.environ.get("VENDGW_LOG_LEVEL", "info")
# Never log request bodies or the Authorization header: only method, path, status, size, time.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'

# TLS, optionally with client certificates (banks commonly require mutual TLS).
certfile = os.environ.get("VENDGW_TLS_CERT") or None
keyfile = os.environ.get("VENDGW_TLS_KEY") or None
ca_certs = os.environ.get("VENDGW_TLS_CA") or None
if ca_certs:
    import ssl

    cert_reqs = ssl.CERT_REQUIRED
