# The demo shop's four services (examples/shop): Debian 12's python3 with
# Flask and requests, exactly as on a developer's machine. No tracing code
# and no OpenTelemetry packages: weft traces them from outside.
FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-flask python3-requests \
 && rm -rf /var/lib/apt/lists/*
COPY examples/shop /shop
WORKDIR /shop
# Inside a container the services must listen beyond loopback.
ENV SHOP_HOST=0.0.0.0
