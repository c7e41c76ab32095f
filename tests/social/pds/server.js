// A throwaway AT Protocol PDS for the Bluesky adapter tests: an in-memory PLC directory and
// a PDS on free loopback ports, one account created. Prints one JSON line with what the tests
// need, then runs until stdin closes or it receives SIGTERM.
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const pds = require('@atproto/pds')
const plc = require('@did-plc/server')

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

async function main() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dispatch-pds-'))
  const plcServer = plc.PlcServer.create({ db: plc.Database.mock(), port: await freePort() })
  const plcHttp = await plcServer.start()
  const plcUrl = `http://localhost:${plcHttp.address().port}`

  const port = await freePort()
  const env = {
    devMode: true,
    port,
    hostname: 'localhost',
    dataDirectory: dataDir,
    blobstoreDiskLocation: path.join(dataDir, 'blobs'),
    didPlcUrl: plcUrl,
    jwtSecret: crypto.randomBytes(16).toString('hex'),
    adminPassword: crypto.randomBytes(16).toString('hex'),
    plcRotationKeyK256PrivateKeyHex: crypto.randomBytes(32).toString('hex'),
    inviteRequired: false,
    serviceHandleDomains: ['.test'],
    crawlers: [],
  }
  const server = await pds.PDS.create(pds.envToCfg(env), pds.envToSecrets(env))
  await server.start()
  const pdsUrl = `http://localhost:${port}`

  const handle = process.env.PDS_HANDLE || 'dispatch.test'
  const password = crypto.randomBytes(12).toString('hex')
  const res = await fetch(`${pdsUrl}/xrpc/com.atproto.server.createAccount`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ handle, password, email: 'social@dispatch.test' }),
  })
  const account = await res.json()
  if (!res.ok) throw new Error(`createAccount failed: ${JSON.stringify(account)}`)

  process.stdout.write(
    JSON.stringify({ pds_url: pdsUrl, plc_url: plcUrl, handle, password, did: account.did }) + '\n',
  )

  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    await server.destroy().catch(() => {})
    await plcServer.destroy().catch(() => {})
    fs.rmSync(dataDir, { recursive: true, force: true })
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  process.stdin.on('end', stop)
  process.stdin.resume()
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})
