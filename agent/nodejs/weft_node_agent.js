// weft's Node.js hook, evaluated in the program through its inspector when
// weft runs with `--node-links inspector` (docs/parent-links.md#nodejs).
//
// A Node.js program serves every request on one thread, in callbacks and
// promise continuations no system call tells apart; only the program's own
// async context knows which request a call is made for. This hook keeps the
// request in an AsyncLocalStorage and tells the kernel, through a uprobe on
// libuv's uv_fs_access (bpf/node_async.h), two things:
//   /dev/null/weft/s/<token>/<fd>  a request started on server socket fd
//   /dev/null/weft/c/<token>/<fd>  socket fd is now written for request
//                                  <token> (0: for none)
// The paths cannot exist (/dev/null is no directory): each call fails at
// once and touches nothing. Evaluates to 'installed' or 'already'.
//
// `uninstall()` on globalThis[Symbol.for('weft.node-links')] puts back
// everything it changed.
(() => {
  const KEY = Symbol.for('weft.node-links');
  if (globalThis[KEY]) return 'already';
  const fs = require('fs');
  const net = require('net');
  const channels = require('diagnostics_channel');
  const {AsyncLocalStorage} = require('async_hooks');

  const access = fs.accessSync;
  const kSpokenFor = Symbol('weft.spokenFor');
  const requests = new AsyncLocalStorage();
  let lastToken = 0;

  function say(kind, token, fd) {
    try {
      access(`/dev/null/weft/${kind}/${token}/${fd}`);
    } catch (expected) {
      // ENOTDIR, always: the message is in the call, not its result.
    }
  }

  function fdOf(socket) {
    const handle = socket._handle;
    return handle && typeof handle.fd === 'number' ? handle.fd : -1;
  }

  // A request's handler, and everything it starts, runs in its store.
  function onRequestStart({socket}) {
    const fd = fdOf(socket);
    if (fd < 0) return;
    const token = ++lastToken;
    say('s', token, fd);
    requests.enterWith(token);
  }

  // Says which request a client socket is written for when that changes.
  // Sockets the server accepted carry answers, never requests: left alone.
  function speakFor(socket, token) {
    if (socket._server || socket[kSpokenFor] === token) return;
    const fd = fdOf(socket);
    if (fd < 0) return;  // still connecting: said once it is connected
    socket[kSpokenFor] = token;
    say('c', token, fd);
  }

  const originalWrite = net.Socket.prototype.write;
  const originalConnect = net.Socket.prototype.connect;
  const ownWrite = Object.prototype.hasOwnProperty.call(net.Socket.prototype, 'write');

  function write(...args) {
    speakFor(this, requests.getStore() || 0);
    return originalWrite.apply(this, args);
  }

  // Writes made while connecting are sent once connected, after this
  // listener (added first) said whom the socket serves.
  function connect(...args) {
    const token = requests.getStore() || 0;
    const result = originalConnect.apply(this, args);
    if (token) {
      this.once('connect', () => speakFor(this, token));
    } else {
      this[kSpokenFor] = 0;  // a new connection serves no request until said
    }
    return result;
  }

  net.Socket.prototype.write = write;
  net.Socket.prototype.connect = connect;
  channels.subscribe('http.server.request.start', onRequestStart);

  globalThis[KEY] = {
    uninstall() {
      channels.unsubscribe('http.server.request.start', onRequestStart);
      if (net.Socket.prototype.connect === connect) net.Socket.prototype.connect = originalConnect;
      if (net.Socket.prototype.write === write) {
        if (ownWrite) {
          net.Socket.prototype.write = originalWrite;
        } else {
          delete net.Socket.prototype.write;
        }
      }
      requests.disable();
      delete globalThis[KEY];
      return 'uninstalled';
    },
  };
  return 'installed';
})()
