#!/usr/bin/python3
"""Thread-per-request service (Flask on werkzeug, threaded=True) for the
accuracy harness. No tracing code.

    threaded_flask.py PORT [DOWNSTREAM_PORT]

GET /r/<rid>/<depth>?sleep=MS&fan=K&leaf=MS sleeps MS, then, when depth > 0
and a downstream is configured, calls GET /r/<rid>-<j>/<depth-1>?sleep=leaf
for j = 1..K one after another (requests, a new connection each) and
answers 200. The request id in the path is the ground truth of the parent
links (tests/accuracy/README.md).
"""
import sys
import time

import requests
from flask import Flask, request

app = Flask(__name__)
PORT = int(sys.argv[1])
DOWNSTREAM = ("http://127.0.0.1:%s" % sys.argv[2]) if len(sys.argv) > 2 else None
NO_PROXY = {"http": None, "https": None}


@app.get("/r/<rid>/<int:depth>")
def handle(rid, depth):
    time.sleep(int(request.args.get("sleep", 0)) / 1000.0)
    fan = int(request.args.get("fan", 0))
    if DOWNSTREAM and depth > 0:
        leaf = request.args.get("leaf", "0")
        for j in range(1, fan + 1):
            reply = requests.get("%s/r/%s-%d/%d?sleep=%s" % (DOWNSTREAM, rid, j, depth - 1, leaf),
                                 timeout=30, proxies=NO_PROXY)
            if reply.status_code != 200:
                return "downstream %d\n" % reply.status_code, 502
    return "ok %s\n" % rid


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=PORT, threaded=True)
