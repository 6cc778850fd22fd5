"""What `epro serve` gives gunicorn: the app as served, made once in the master process.

``SERVING`` leaves out what only the command line needs (migrations).  gunicorn
loads this module before it forks the workers (``preload_app`` in
:mod:`epro.app.gunicorn_conf`), so the workers share the code and data of the
app instead of each building its own copy.
"""
from epro.app.factory import create_app

app = create_app({"SERVING": True})
