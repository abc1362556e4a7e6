#!/usr/bin/python3
"""Store front end of the demo shop: the page a customer asks for.

GET / calls the catalog (GET /products) and auth (GET /verify).
No tracing code: weft observes this process from the kernel. The file is
named store-fe.py so that weft names the service `store-fe`.
Port: argv[1], else STORE_FE_PORT, else 8080. Downstream: CATALOG_URL, AUTH_URL.
"""
import os
import sys

import requests
from flask import Flask, jsonify, request

app = Flask(__name__)

CATALOG_URL = os.environ.get("CATALOG_URL", "http://127.0.0.1:8081")
AUTH_URL = os.environ.get("AUTH_URL", "http://127.0.0.1:8083")
TIMEOUT_SECONDS = 5


@app.get("/")
def home():
    user = request.headers.get("X-Shop-User", "guest")
    catalog = requests.get(f"{CATALOG_URL}/products", timeout=TIMEOUT_SECONDS)
    if catalog.status_code != 200:
        return jsonify(error=f"catalog answered {catalog.status_code}"), 502
    auth = requests.get(f"{AUTH_URL}/verify", headers={"X-Shop-User": user},
                        timeout=TIMEOUT_SECONDS)
    if auth.status_code != 200:
        return jsonify(error=f"auth answered {auth.status_code}"), 502
    return jsonify(user=auth.json()["user"], products=catalog.json()["products"])


@app.get("/healthz")
def healthz():
    return jsonify(ok=True)


if __name__ == "__main__":
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("STORE_FE_PORT", "8080"))
    app.run(host=os.environ.get("SHOP_HOST", "127.0.0.1"), port=port, threaded=True)
