#!/usr/bin/python3
"""Auth service of the demo shop: verifies the caller.

No tracing code: weft observes this process from the kernel.
Port: argv[1], else AUTH_PORT, else 8083.
"""
import os
import sys

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.get("/verify")
def verify():
    # A demo shop trusts everyone; the header only changes the name shown.
    user = request.headers.get("X-Shop-User", "guest")
    return jsonify(user=user, verified=True)


if __name__ == "__main__":
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AUTH_PORT", "8083"))
    app.run(host=os.environ.get("SHOP_HOST", "127.0.0.1"), port=port, threaded=True)
