// A Node.js http service for tests/e2e/test_node_links.py; core modules only,
// no tracing code.
//
//   node node_service.js PORT [DOWNSTREAM_PORT]
//
// GET /r/<rid>  calls DOWNSTREAM /r/<rid>-1 and /r/<rid>-2 (concurrently for
//               odd rids, else one after the other) after a short timer, over
//               a small keep-alive pool, so requests share sockets.
// GET /status   what the test must know of the program itself: whether weft's
//               hook is in it, how often a SIGUSR1 handler ran, whether its
//               inspector is open.
// HANDLE_SIGUSR1=1 installs the program's own SIGUSR1 handler.
'use strict';
const http = require('http');
const inspector = require('inspector');

const port = Number(process.argv[2]);
const downstream = process.argv[3] ? Number(process.argv[3]) : 0;
const pool = new http.Agent({keepAlive: true, maxSockets: 3});
let usr1 = 0;
if (process.env.HANDLE_SIGUSR1 === '1') process.on('SIGUSR1', () => { usr1++; });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const call = (path) => new Promise((resolve) => {
  http.get({host: '127.0.0.1', port: downstream, path, agent: pool}, (res) => {
    res.resume();
    res.on('end', () => resolve(res.statusCode));
  }).on('error', () => resolve(599));
});

http.createServer(async (req, res) => {
  if (req.url === '/status') {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({
      hooked: Boolean(globalThis[Symbol.for('weft.node-links')]),
      usr1,
      inspector: inspector.url() || null,
    }));
    return;
  }
  const match = /^\/r\/([^/]+)$/.exec(req.url);
  if (!match) {
    res.writeHead(404).end();
    return;
  }
  const rid = match[1];
  await sleep(Number(rid.split('-')[0]) % 3);
  if (downstream) {
    const paths = [`/r/${rid}-1`, `/r/${rid}-2`];
    const statuses = Number(rid) % 2 ? await Promise.all(paths.map(call))
                                     : [await call(paths[0]), await call(paths[1])];
    if (statuses.some((s) => s !== 200)) {
      res.writeHead(502).end();
      return;
    }
  }
  res.end(`ok ${rid}\n`);
}).listen(port, '127.0.0.1');
