// Preloaded with NODE_OPTIONS=--require: every TCP server that does not name its own address
// listens on 127.0.0.1 instead of all interfaces. @atproto/dev-env starts a dozen servers with
// listen(port); none of them may be reachable from outside this machine.
'use strict'

const net = require('node:net')

const LOOPBACK = '127.0.0.1'
const ANY = new Set([undefined, null, '', '0.0.0.0', '::'])
const listen = net.Server.prototype.listen

function isPort(value) {
  return typeof value === 'number' || (typeof value === 'string' && /^\d+$/.test(value))
}

net.Server.prototype.listen = function (...args) {
  const [first, second] = args
  if (args.length === 0 || typeof first === 'function') {
    // listen() or listen(callback): a random port on all interfaces.
    args.unshift(0, LOOPBACK)
  } else if (isPort(first)) {
    // listen(port[, host][, backlog][, callback])
    if (typeof second !== 'string') args.splice(1, 0, LOOPBACK)
    else if (ANY.has(second)) args[1] = LOOPBACK
  } else if (first && typeof first === 'object' && !(first instanceof net.Server) && !first._handle) {
    // listen({ port, host, ... }); sockets given by path, fd or handle stay as they are.
    if (first.path === undefined && first.fd === undefined && ANY.has(first.host)) {
      args[0] = { ...first, host: LOOPBACK }
    }
  }
  return listen.apply(this, args)
}
