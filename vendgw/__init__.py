"""The composition root: the `vendgw` command line, the WSGI application and how gunicorn serves
it, /healthz, metrics and request logs, the demo utility, the migrations' wiring, backups and
the invariant checks across domains. Everything else sits below it and never imports it."""
