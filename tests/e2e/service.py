#!/usr/bin/python3
"""A small threaded Flask service for weft's end-to-end tests. No tracing
code: weft observes it from the kernel. The tests copy it as <name>.py, so
weft names the service <name>.

    <name>.py PORT        downstream calls go to $DOWNSTREAM_URL; listens on
                          $SERVICE_HOST (default 127.0.0.1)

Routes:
  GET /item/<n>          status STATUSES[n % 6], so a span's status tells which
                         path it answered
  GET /order/<id>        calls GET $DOWNSTREAM_URL/place/<id> (requests)
  GET /session/<id>      like /order/<id>, over one shared requests.Session
                         (keep-alive: calls reuse pooled connections)
  GET /pooled/<id>       like /order/<id>, but the call runs on a worker thread
                         of a shared pool (not the thread serving the request)
  GET /place/<id>        200
  GET /fail              500
  GET /search            200, echoes the number of query parameters
  GET /blob/<n>          n bytes (Content-Length)
  GET /chunked/<n>       n bytes in 10 chunks (Transfer-Encoding: chunked)
  POST /upload           answers with the number of body bytes received
  GET /fetch/<n>         calls GET $DOWNSTREAM_URL/blob/<n>, answers its length
  GET /proxy/<path>      calls GET $DOWNSTREAM_URL/<path> with the same query
                         string, Authorization and Cookie; answers 200 with
                         the downstream status in the body
"""
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import requests
from flask import Flask, Response, jsonify, request

app = Flask(__name__)

DOWNSTREAM_URL = os.environ.get("DOWNSTREAM_URL", "")
STATUSES = (200, 201, 202, 203, 404, 409)
TIMEOUT_SECONDS = 5
SESSION = requests.Session()
POOL = ThreadPoolExecutor(max_workers=2)


@app.get("/item/<int:n>")
def item(n):
    return jsonify(item=n), STATUSES[n % len(STATUSES)]


@app.get("/order/<order_id>")
def order(order_id):
    placed = requests.get(f"{DOWNSTREAM_URL}/place/{order_id}", timeout=TIMEOUT_SECONDS)
    return jsonify(order=order_id, placed=placed.json()), placed.status_code


@app.get("/session/<order_id>")
def session_order(order_id):
    placed = SESSION.get(f"{DOWNSTREAM_URL}/place/{order_id}", timeout=TIMEOUT_SECONDS)
    return jsonify(order=order_id, placed=placed.text), placed.status_code


@app.get("/pooled/<order_id>")
def pooled_order(order_id):
    placed = POOL.submit(requests.get, f"{DOWNSTREAM_URL}/place/{order_id}",
                         timeout=TIMEOUT_SECONDS).result()
    return jsonify(order=order_id, placed=placed.json()), placed.status_code


@app.get("/place/<order_id>")
def place(order_id):
    return jsonify(placed=order_id)


@app.get("/fail")
def fail():
    return jsonify(error="failing on purpose"), 500


@app.get("/search")
def search():
    return jsonify(parameters=len(request.args))


@app.get("/blob/<int:n>")
def blob(n):
    return Response(b"x" * n, mimetype="application/octet-stream")


@app.get("/chunked/<int:n>")
def chunked(n):
    def pieces():
        for i in range(10):
            yield b"y" * (n // 10 + (n % 10 if i == 9 else 0))
    return Response(pieces(), mimetype="application/octet-stream")


@app.post("/upload")
def upload():
    return jsonify(received=len(request.get_data()))


@app.get("/fetch/<int:n>")
def fetch(n):
    reply = requests.get(f"{DOWNSTREAM_URL}/blob/{n}", timeout=TIMEOUT_SECONDS)
    return jsonify(fetched=len(reply.content))


@app.get("/proxy/<path:rest>")
def proxy(rest):
    forwarded = {k: v for k, v in request.headers.items() if k in ("Authorization", "Cookie")}
    query = request.query_string.decode()
    url = f"{DOWNSTREAM_URL}/{rest}" + (f"?{query}" if query else "")
    reply = requests.get(url, headers=forwarded, timeout=TIMEOUT_SECONDS)
    return jsonify(downstream_status=reply.status_code)


if __name__ == "__main__":
    port = int(sys.argv[1])
    app.run(host=os.environ.get("SERVICE_HOST", "127.0.0.1"), port=port, threaded=True)
