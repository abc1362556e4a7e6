#!/usr/bin/python3
"""Catalog service of the demo shop: the product list, with stock levels.

Each GET /products calls the stock service three times, once per product,
so one shop request fans out into a small tree of spans.
No tracing code: weft observes this process from the kernel.
Port: argv[1], else CATALOG_PORT, else 8081. Stock: STOCK_URL.
"""
import os
import sys

import requests
from flask import Flask, jsonify

app = Flask(__name__)

STOCK_URL = os.environ.get("STOCK_URL", "http://127.0.0.1:8082")
TIMEOUT_SECONDS = 5

PRODUCTS = [
    {"id": 1, "name": "Tea pot", "price": 24.0},
    {"id": 2, "name": "Mug", "price": 8.5},
    {"id": 3, "name": "Kettle", "price": 39.0},
]


@app.get("/products")
def products():
    listed = []
    for product in PRODUCTS:
        # Plain requests.get: a fresh connection per call, no shared session
        # across the server's request threads.
        reply = requests.get(f"{STOCK_URL}/stock/{product['id']}", timeout=TIMEOUT_SECONDS)
        if reply.status_code != 200:
            return jsonify(error=f"stock answered {reply.status_code}"), 502
        listed.append({**product, "in_stock": reply.json()["in_stock"]})
    return jsonify(products=listed)


if __name__ == "__main__":
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CATALOG_PORT", "8081"))
    app.run(host=os.environ.get("SHOP_HOST", "127.0.0.1"), port=port, threaded=True)
