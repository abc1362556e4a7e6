// weft's Node.js hook, evaluated in the program through its inspector when
// weft runs with `--node-links inspector` (docs/parent-links.md#nodejs).
//
// A Node.js program serves every request on one thread, in callbacks and
// promise continuations no system call tells apart; only the program's own
// async context knows which request a call is made for. This hook keeps the
// request in an AsyncLocalStorage and tells the kernel, through a uprobe on
// libuv's uv_fs_access (bpf/node_async.h), which request each client
// socket is written for, whenever that changes:
//   /dev/null/weft/r/<token>/<in fd>/<fd>  a request's first call: the
//       request server socket <in fd> is reading is <token>, and socket
//       <fd> is now written for it
//   /dev/null/weft/c/<token>/<fd>  socket <fd> is now written for request
//       <token> (0: for none)
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

  // existsSync, not accessSync: both reach uv_fs_access, but a failing
  // accessSync throws, and the Error with its stack trace costs several
  // times the system call.
  const exists = fs.existsSync;
  const kSpokenFor = Symbol('weft.spokenFor');
  const requests = new AsyncLocalStorage();
  let lastToken = 0;

  // The message is in the call, not its result (false, always: ENOTDIR).
  function say(message) {
    exists(`/dev/null/weft/${message}`);
  }

  function fdOf(socket) {
    const handle = socket._handle;
    return handle && typeof handle.fd === 'number' ? handle.fd : -1;
  }

  // Nothing the hook does may break the program: both entry points below
  // catch everything, and a failure costs a link. (A diagnostics-channel
  // subscriber's exception would end the process.)

  // A request's handler, and everything it starts, runs with its store.
  // Nothing is said yet: most requests make no call.
  function onRequestStart({socket, response}) {
    try {
      const fd = fdOf(socket);
      if (fd >= 0) requests.enterWith({token: ++lastToken, fd, response, filed: false});
    } catch (ignored) {
      // this request's calls get no parent
    }
  }

  // Says which request a client socket is written for when that changes.
  // A request's first call also files the request: its server connection is
  // still reading it then, unless it was already answered (and the
  // connection may have a newer request by now: then the call gets none).
  // Sockets the server accepted carry answers, never requests: left alone.
  function speakFor(socket, request) {
    try {
      if (socket._server) return;
      let token = request ? request.token : 0;
      if (request && !request.filed && request.response && request.response.writableEnded) {
        token = 0;
      }
      if (socket[kSpokenFor] === token) return;
      const fd = fdOf(socket);
      if (fd < 0) return;  // still connecting: said once it is connected
      socket[kSpokenFor] = token;
      if (token && !request.filed) {
        request.filed = true;
        say(`r/${token}/${request.fd}/${fd}`);
      } else {
        say(`c/${token}/${fd}`);
      }
    } catch (ignored) {
      // this call gets no parent
    }
  }

  const originalWrite = net.Socket.prototype.write;
  const originalConnect = net.Socket.prototype.connect;
  const ownWrite = Object.prototype.hasOwnProperty.call(net.Socket.prototype, 'write');

  function write(...args) {
    speakFor(this, requests.getStore());
    return originalWrite.apply(this, args);
  }

  // Writes made while connecting are sent once connected, after this
  // listener (added first) said whom the socket serves.
  function connect(...args) {
    const request = requests.getStore();
    const result = originalConnect.apply(this, args);
    if (request) {
      this.once('connect', () => speakFor(this, request));
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
