// Node.js http service for weft's accuracy harness. No tracing code, core
// modules only.
//
//   node node_http.js PORT [DOWNSTREAM_PORT]
//
// Same contract as threaded_flask.py; with par=1 the K downstream calls run
// concurrently (Promise.all), else one after another. The keep-alive agent
// pools connections, so calls of different requests share them.
'use strict';
const http = require('http');

const port = Number(process.argv[2]);
const downstreamPort = process.argv[3] ? Number(process.argv[3]) : 0;
const agent = new http.Agent({keepAlive: true, maxSockets: 64});

function call(path) {
  return new Promise((resolve) => {
    const req = http.get({host: '127.0.0.1', port: downstreamPort, path, agent, timeout: 30000},
                         (reply) => {
                           reply.resume();
                           reply.on('end', () => resolve(reply.statusCode));
                         });
    req.on('error', () => resolve(599));
    req.on('timeout', () => req.destroy());
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function handle(req, res) {
  const url = new URL(req.url, 'http://local');
  const match = /^\/r\/([^/]+)\/(\d+)$/.exec(url.pathname);
  if (!match) {
    res.writeHead(404).end('not found\n');
    return;
  }
  const rid = match[1];
  const depth = Number(match[2]);
  const query = url.searchParams;
  await sleep(Number(query.get('sleep') || 0));
  const fan = Number(query.get('fan') || 0);
  if (downstreamPort && depth > 0 && fan > 0) {
    const leaf = query.get('leaf') || '0';
    const paths = [];
    for (let j = 1; j <= fan; j++) paths.push(`/r/${rid}-${j}/${depth - 1}?sleep=${leaf}`);
    let statuses;
    if (query.get('par') === '1') {
      statuses = await Promise.all(paths.map(call));
    } else {
      statuses = [];
      for (const p of paths) statuses.push(await call(p));
    }
    if (statuses.some((s) => s !== 200)) {
      res.writeHead(502).end(`downstream ${statuses}\n`);
      return;
    }
  }
  res.writeHead(200, {'Content-Type': 'text/plain'}).end(`ok ${rid}\n`);
}

http.createServer((req, res) => {
  handle(req, res).catch((err) => res.writeHead(500).end(String(err)));
}).listen(port, '127.0.0.1');
