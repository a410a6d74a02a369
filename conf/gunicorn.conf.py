"""gunicorn settings for the vending gateway (`vendgw serve` passes this file).

Sync workers: each vend is a short, database-bound request, and a worker per request keeps a
crash or a slow client from touching other vends. Override any value with GUNICORN_CMD_ARGS or
the VENDGW_GUNICORN_* variables below.
"""

import multiprocessing
import os
import tomllib
from pathlib import Path

bind = os.environ.get("VENDGW_SERVER_BIND", "127.0.0.1:8080")
workers = int(os.environ.get("VENDGW_GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = os.environ.get("VENDGW_GUNICORN_WORKER_CLASS", "sync")
timeout = int(os.environ.get("VENDGW_GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
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
