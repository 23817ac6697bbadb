// A whole AT Protocol network in this process, from the official, unmodified @atproto/dev-env:
// PLC directory, PDS, Bluesky AppView (with its dataplane), bsync and Ozone.
// Started by stammtisch/devtools/atproto/network.py, which sets:
//   ATPROTO_MODULES     the folder that holds node_modules/@atproto/dev-env
//   ATPROTO_PORTS       "plc,pds,appview,ozone": free ports on 127.0.0.1
//   DB_POSTGRES_URL, DB_POSTGRES_SCHEMA, REDIS_HOST  (read by dev-env itself)
//   TMPDIR              dev-env keeps the PDS's data and blobs there and never deletes them
// and preloads loopback.cjs. Prints one JSON line with the addresses once the network answers.
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const modules = process.env.ATPROTO_MODULES
const ports = (process.env.ATPROTO_PORTS || '').split(',').map(Number)
if (!modules || ports.length !== 4 || !ports.every((port) => port > 0)) {
  console.error('network.mjs: ATPROTO_MODULES and ATPROTO_PORTS=plc,pds,appview,ozone are required')
  process.exit(2)
}
const [plcPort, pdsPort, appviewPort, ozonePort] = ports

// Resolve the package from the install folder, not from beside this file.
const entry = createRequire(path.join(modules, 'package.json')).resolve('@atproto/dev-env')
const { TestNetwork } = await import(pathToFileURL(entry).href)

const started = Date.now()
const network = await TestNetwork.create({
  plc: { port: plcPort },
  pds: { port: pdsPort },
  bsky: { port: appviewPort },
  ozone: { port: ozonePort },
})

let closing = false
async function stop() {
  if (closing) return
  closing = true
  try {
    await network.close()
  } finally {
    process.exit(0)
  }
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)

console.log(
  JSON.stringify({
    ready: true,
    startup_ms: Date.now() - started,
    plc: network.plc.url,
    pds: network.pds.url,
    appview: network.bsky.url,
    ozone: network.ozone.url,
    appview_did: network.bsky.serverDid,
  }),
)
