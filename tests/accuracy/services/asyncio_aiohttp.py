#!/usr/bin/python3
"""asyncio service (aiohttp server and client, one event loop thread) for the
accuracy harness. No tracing code.

    asyncio_aiohttp.py PORT [DOWNSTREAM_PORT]

Same contract as threaded_flask.py; with par=1 the K downstream calls run
concurrently (asyncio.gather), else one after another. One ClientSession
pools keep-alive connections, so calls of different requests share them.
"""
import asyncio
import sys

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

PORT = int(sys.argv[1])
DOWNSTREAM = ("http://127.0.0.1:%s" % sys.argv[2]) if len(sys.argv) > 2 else None


async def call(session, url):
    async with session.get(url) as reply:
        await reply.read()
        return reply.status


async def handle(request):
    rid = request.match_info["rid"]
    depth = int(request.match_info["depth"])
    query = request.rel_url.query
    await asyncio.sleep(int(query.get("sleep", 0)) / 1000.0)
    fan = int(query.get("fan", 0))
    if DOWNSTREAM and depth > 0 and fan > 0:
        session = request.app["session"]
        leaf = query.get("leaf", "0")
        urls = ["%s/r/%s-%d/%d?sleep=%s" % (DOWNSTREAM, rid, j, depth - 1, leaf)
                for j in range(1, fan + 1)]
        if query.get("par") == "1":
            statuses = await asyncio.gather(*(call(session, u) for u in urls))
        else:
            statuses = [await call(session, u) for u in urls]
        if any(s != 200 for s in statuses):
            return web.Response(status=502, text="downstream %s\n" % statuses)
    return web.Response(text="ok %s\n" % rid)


async def open_session(app):
    app["session"] = ClientSession(connector=TCPConnector(limit=64),
                                   timeout=ClientTimeout(total=30), trust_env=False)
    yield
    await app["session"].close()


def main():
    app = web.Application()
    app.router.add_get("/r/{rid}/{depth}", handle)
    app.cleanup_ctx.append(open_session)
    web.run_app(app, host="127.0.0.1", port=PORT, access_log=None, print=None)


if __name__ == "__main__":
    main()
