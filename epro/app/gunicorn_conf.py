"""gunicorn settings for `epro serve` (the command line gives the address and the workers).

The app is made in the master (``preload_app``) and the workers fork from it,
sharing its memory page by page until they write to it.  Two things keep the
sharing: the cycle collector is told to leave the master's objects alone
(``gc.freeze``: otherwise its bookkeeping writes to every object and copies
every page), and each worker opens its own database connections (a connection
must never cross a fork).
"""
from __future__ import annotations

import gc
from typing import Any

preload_app = True
worker_class = "gthread"
threads = 4
graceful_timeout = 10
accesslog = "-"
# The path without its query string: activation links carry one-time codes.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'


def pre_fork(_server: Any, _worker: Any) -> None:
    gc.freeze()


def post_fork(server: Any, _worker: Any) -> None:
    from epro.base.orm import db

    with server.app.wsgi().app_context():
        db.engine.dispose(close=False)  # the master's pool (empty, it never connects) is not shared
