#!/usr/bin/python3
"""Stock service of the demo shop: how many of a product are in stock.

No tracing code: weft observes this process from the kernel.
Port: argv[1], else STOCK_PORT, else 8082.
"""
import os
import sys

from flask import Flask, jsonify

app = Flask(__name__)

# A fixed inventory keeps the demo's output stable run to run.
INVENTORY = {1: 12, 2: 0, 3: 5, 4: 40, 5: 7}


@app.get("/stock/<int:product_id>")
def stock(product_id):
    if product_id not in INVENTORY:
        return jsonify(error=f"unknown product {product_id}"), 404
    return jsonify(product_id=product_id, in_stock=INVENTORY[product_id])


if __name__ == "__main__":
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("STOCK_PORT", "8082"))
    app.run(host=os.environ.get("SHOP_HOST", "127.0.0.1"), port=port, threaded=True)
