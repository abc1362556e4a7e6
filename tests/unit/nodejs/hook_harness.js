// Runs weft's Node.js hook (agent/nodejs/weft_node_agent.js) in a real
// program and plays the kernel's part: it keeps the hook's messages in order
// and, at the moment each request's bytes reach a socket, notes which request
// the kernel would make their parent. Prints one JSON report.
//
//   node hook_harness.js HOOK_PATH REQUESTS
'use strict';
const fs = require('fs');
const http = require('http');
const net = require('net');

const [hookPath, requestCount] = [process.argv[2], Number(process.argv[3] || 200)];
const messages = [];
// Which request each server socket is reading (the harness's own view,
// from its subscriber below), to tell which request an 'r' message files.
const readingRid = new Map();
const tokenRid = new Map();
// The hook keeps the existsSync it finds at install: record instead.
const realExists = fs.existsSync;
let failMessages = false;
fs.existsSync = (path) => {
  if (failMessages) throw new Error('a failing message');
  messages.push(path);
  const filed = /^\/dev\/null\/weft\/r\/(\d+)\/(\d+)\/\d+$/.exec(path);
  if (filed) tokenRid.set(Number(filed[1]), readingRid.get(Number(filed[2])));
  return realExists('/dev/null/weft/x');  // false (ENOTDIR), as in production
};
const source = fs.readFileSync(hookPath, 'utf8');
const originalWrite = net.Socket.prototype.write;
const originalConnect = net.Socket.prototype.connect;
const report = {first: eval(source), second: eval(source)};

// The kernel's view: socket fd -> token it is written for.
const socketToken = new Map();
let consumed = 0;
function applyMessages() {
  for (; consumed < messages.length; consumed++) {
    const m = /^\/dev\/null\/weft\/(?:r\/(\d+)\/\d+|c\/(\d+))\/(\d+)$/.exec(messages[consumed]);
    if (!m) throw new Error('malformed message ' + messages[consumed]);
    const token = Number(m[1] || m[2]);
    if (token === 0) socketToken.delete(Number(m[3]));
    else socketToken.set(Number(m[3]), token);
  }
}
require('diagnostics_channel').subscribe('http.server.request.start', ({request, socket}) => {
  const rid = /^\/r\/([^/]+)\//.exec(request.url);
  if (rid) readingRid.set(socket._handle.fd, rid[1]);
});
// Where bytes reach the socket (after any connect): what the kernel decides.
const sent = [];
const originalWriteGeneric = net.Socket.prototype._writeGeneric;
net.Socket.prototype._writeGeneric = function(writev, data, encoding, cb) {
  if (!this.connecting && !this._server) {
    applyMessages();
    const first = writev ? data[0].chunk : data;
    const text = Buffer.isBuffer(first) ? first.toString('latin1', 0, 200) : String(first);
    const line = /^GET (\/r\/([^/]+)-\d+\/\S*) HTTP/.exec(text);
    if (line) {
      const token = socketToken.get(this._handle.fd);
      sent.push({path: line[1], parentRid: line[2], linkedRid: token ? tokenRid.get(token) : null});
    }
  }
  return originalWriteGeneric.call(this, writev, data, encoding, cb);
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Few sockets, so requests share them and every write must say its request.
const pool = new http.Agent({keepAlive: true, maxSockets: 4});
const get = (port, path, agent) => new Promise((resolve, reject) => {
  http.get({host: '127.0.0.1', port, path, agent}, (res) => {
    res.resume();
    res.on('end', () => resolve(res.statusCode));
  }).on('error', reject);
});

const back = http.createServer((req, res) => setTimeout(() => res.end('ok'), req.url.length % 3));
back.listen(0, '127.0.0.1', () => {
  const backPort = back.address().port;
  const front = http.createServer(async (req, res) => {
    const rid = /^\/r\/([^/]+)\//.exec(req.url)[1];
    await sleep(Number(rid) % 4);
    const paths = [1, 2, 3].map((j) => `/r/${rid}-${j}/0`);
    if (Number(rid) % 2) {
      await Promise.all(paths.map((p) => get(backPort, p, pool)));
    } else {
      for (const p of paths) await get(backPort, p, pool);
    }
    res.end('done');
  });
  front.listen(0, '127.0.0.1', async () => {
    const frontPort = front.address().port;
    const clients = new http.Agent({keepAlive: true, maxSockets: 16});
    const all = [];
    for (let i = 0; i < requestCount; i++) all.push(get(frontPort, `/r/${i}/1`, clients));
    await Promise.all(all);
    applyMessages();
    report.calls = sent.length;
    report.linked = sent.filter((s) => s.linkedRid).length;
    report.wrong = sent.filter((s) => s.linkedRid && s.linkedRid !== s.parentRid)
                       .map((s) => `${s.path} under ${s.linkedRid}`).slice(0, 10);
    report.filed = messages.filter((m) => m.startsWith('/dev/null/weft/r/')).length;
    report.messages = messages.length;
    report.uninstall = globalThis[Symbol.for('weft.node-links')].uninstall();
    report.restored = net.Socket.prototype.write === originalWrite &&
                      net.Socket.prototype.connect === originalConnect;
    const before = messages.length;
    await get(frontPort, '/r/after/0', clients);
    report.messagesAfterUninstall = messages.length - before;
    report.reinstall = eval(source);
    // The hook installed anew, every message failing: the program must not.
    failMessages = true;
    const statuses = await Promise.all([1, 2, 3].map((i) => get(frontPort, `/r/${1000 + i}/1`,
                                                                 clients)));
    report.survivesFailures = statuses.every((s) => s === 200);
    console.log(JSON.stringify(report));
    process.exit(0);
  });
});
