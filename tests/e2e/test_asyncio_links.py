"""asyncio task links (weft.link.source=async-task) on real asyncio services.

- aiohttp front (a task per request, calls fanned out with asyncio.gather):
  every downstream CLIENT span hangs under the front request that caused it.
- A front written on asyncio streams that answers from each connection's own
  task, created before its requests: that task may serve several requests,
  so weft must link nothing there (precision first), and say so at exit.
  (Each front request uses a new connection: aiohttp then creates its
  connection task inside a context copy weft does not see, the case that
  once joined a later request's tasks to an earlier one's.)
- Under --no-python-probes the aiohttp front's calls get no parent.
Each front serves concurrent keep-alive clients so requests interleave on
the loop."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import attr, describe, stop_after_spans  # noqa: E402
import weftlib  # noqa: E402

CLIENTS = 6
PER_CLIENT = 5
FAN = 2

# Runs `serve(reader, writer)` for every connection on port argv[1].
STREAM_SERVER_MAIN = r'''
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]))
    async with server:
        await server.serve_forever()

asyncio.run(main())
'''

BACK = r'''
import asyncio, sys

async def serve(reader, writer):
    while True:
        head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
        if not head:
            break
        await asyncio.sleep(0.005)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
        await writer.drain()
    writer.close()
''' + STREAM_SERVER_MAIN

# aiohttp: a new task per request (after reading it); the calls run in child
# tasks of that task (asyncio.gather).
AIOHTTP_FRONT = r'''
import asyncio, os, sys
from aiohttp import ClientSession, TCPConnector, web

BACK = os.environ["DOWNSTREAM_URL"]

async def call(session, url):
    async with session.get(url) as reply:
        await reply.read()
        return reply.status

async def handle(request):
    rid = request.match_info["rid"]
    await asyncio.sleep(0.003)
    session = request.app["session"]
    statuses = await asyncio.gather(*(call(session, "%s/b/%s-%d" % (BACK, rid, j))
                                      for j in range(1, ''' + str(FAN) + r''' + 1)))
    return web.Response(status=200 if all(s == 200 for s in statuses) else 502, text="ok\n")

async def open_session(app):
    app["session"] = ClientSession(connector=TCPConnector(limit=16), trust_env=False)
    yield
    await app["session"].close()

app = web.Application()
app.router.add_get("/r/{rid}", handle)
app.cleanup_ctx.append(open_session)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
'''

# asyncio streams: each connection's task (created before its requests)
# reads, calls and answers every request of that connection itself.
CONNECTION_TASK_FRONT = r'''
import asyncio, os, sys

HOST, PORT = os.environ["DOWNSTREAM_URL"].rsplit("/", 1)[1].split(":")

async def call(path):
    reader, writer = await asyncio.open_connection(HOST, int(PORT))
    writer.write(("GET %s HTTP/1.1\r\nHost: back\r\nConnection: close\r\n\r\n" % path).encode())
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")
    await reader.readexactly(3)
    writer.close()

async def serve(reader, writer):
    while not reader.at_eof():
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            break
        rid = head.split(b" ")[1].decode().rsplit("/", 1)[1]
        await asyncio.sleep(0.003)
        for j in range(1, ''' + str(FAN) + r''' + 1):
            await call("/b/%s-%d" % (rid, j))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
        await writer.drain()
    writer.close()
''' + STREAM_SERVER_MAIN


def run(front_source, extra_args, label, f):
    """Traces back + front under load; returns (spans, weft's stderr)."""
    total = CLIENTS * PER_CLIENT
    rx = e2elib.start_receiver()
    try:
        with e2elib.Processes() as procs:
            back_port, front_port = weftlib.free_port(), weftlib.free_port()
            back = procs.start_service("back", BACK, back_port)
            front = procs.start_service("front", front_source, front_port,
                                        env={"DOWNSTREAM_URL": "http://127.0.0.1:%d" % back_port})
            weft = e2elib.start_weft([front.pid, back.pid], extra_args=extra_args, env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": rx.grpc_endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
            with weft:
                weft.wait_ready()
                e2elib.drive_front(front_port, f, label, CLIENTS, PER_CLIENT)
                # Each front request: its SERVER span, FAN CLIENT spans, FAN back spans.
                stop_after_spans(f, weft, rx, count=(1 + 2 * FAN) * total, timeout=20)
                output = "\n".join(weft.stderr_lines)
        return rx.spans(), output
    finally:
        rx.stop(check=False)


def client_links(spans):
    """(CLIENT spans, wrong parents, linked by async-task, right parents)."""
    by_id = {s["span_id"]: s for s in spans}
    clients = [s for s in spans if s["kind"] == "CLIENT"]
    wrong, linked, right = [], 0, {}
    for c in clients:
        if not c["parent_span_id"]:
            continue
        parent = by_id.get(c["parent_span_id"])
        rid = str(attr(c, "url.full")).rsplit("/", 1)[-1].rsplit("-", 1)[0]
        if parent is None or attr(parent, "url.path") != "/r/%s" % rid:
            wrong.append("%s under %s" % (describe(c), parent and describe(parent)))
        else:
            source = attr(c, "weft.link.source")
            right[source] = right.get(source, 0) + 1
            linked += source == "async-task"
    right_total = sum(right.values())
    unlinked = sorted(str(attr(c, "url.full")).rsplit("/", 1)[-1] for c in clients
                      if not c["parent_span_id"])
    print("right parents by link source: %s; without parent: %s" % (right, unlinked[:12]))
    fronts = {attr(s, "url.path"): s for s in spans if s["kind"] == "SERVER"}
    for c in clients:
        if c["parent_span_id"]:
            continue
        front = fronts.get("/r/%s" % str(attr(c, "url.full")).rsplit("/", 1)[-1].rsplit("-", 1)[0])
        if front:
            print("  unlinked %s: starts %d us after its front request, ends %d us before it "
                  "ends; link source %s" % (
                      describe(c), (c["start_unix_nano"] - front["start_unix_nano"]) // 1000,
                      (front["end_unix_nano"] - c["end_unix_nano"]) // 1000,
                      attr(c, "weft.link.source")))
    return clients, wrong, linked, right_total


def main():
    weftlib.require_bpf()
    f = weftlib.Failures()
    total = CLIENTS * PER_CLIENT

    spans, output = run(AIOHTTP_FRONT, (), "aiohttp", f)
    print("\n".join(l for l in output.splitlines() if "async-task:" in l))
    clients, wrong, linked, right = client_links(spans)
    f.check(len(clients) == FAN * total, "aiohttp: %d CLIENT spans (%d)" % (FAN * total, len(clients)))
    f.check(not wrong, "aiohttp: no CLIENT span has a wrong parent (%s)" % wrong[:4])
    # The kernel may link a loop's first calls by thread, rightly, before it
    # sees the thread interleave requests: those are not held.
    f.check(right == len(clients) and linked > 0,
            "aiohttp: every call has its request as parent (%d of %d, %d by async-task)" %
            (right, len(clients), linked))

    spans, output = run(CONNECTION_TASK_FRONT, (), "connection task", f)
    clients, wrong, linked, _ = client_links(spans)
    f.check(len(clients) == FAN * total,
            "connection task: %d CLIENT spans (%d)" % (FAN * total, len(clients)))
    f.check(not wrong, "connection task: no CLIENT span has a wrong parent (%s)" % wrong[:4])
    f.check(linked == 0, "connection task: no async-task link from a task older than its "
            "request (%d)" % linked)
    older = re.search(r"(\d+) answers from a context older than their request", output)
    f.check(older is not None and int(older.group(1)) > 0,
            "connection task: the exit line counts answers from an older context (%s)" %
            (older.group(0) if older else "no such line"))

    spans, _ = run(AIOHTTP_FRONT, ("--no-python-probes",), "no probes", f)
    clients, wrong, linked, _ = client_links(spans)
    f.check(not wrong and linked == 0,
            "--no-python-probes: no async-task links and no wrong parent (%d linked, %s)" %
            (linked, wrong[:4]))
    f.finish()


if __name__ == "__main__":
    main()
