"""The floor: a bare Flask view returning JSON, served by the same gunicorn settings as epro.

bench/serve.py reports every epro figure as a ratio to this one, measured in the same run.
"""
from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")
