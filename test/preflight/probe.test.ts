/**
 * probeAddresses against addresses that cannot leak: loopback here, and for "nobody answers" a
 * network namespace this test makes, whose only link is a veth pair that ends inside it. The
 * addresses there (TEST-NET, RFC 5737) have permanent neighbour entries for a MAC nobody owns, so
 * a SYN is sent and silently lost, and an address without a route fails at once (ENETUNREACH).
 * No packet leaves the machine. The namespace needs root: without it those cases are skipped.
 */
import {execFileSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import {createServer, type AddressInfo, type Server} from 'node:net'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {probeAddresses} from '../../src/lib/preflight/index.js'
import {repoRoot} from '../helpers/cli.js'

const NS = `kp-probe-${process.pid}`
/** Answered by nobody: on the veth link, with a neighbour entry so no ARP is even needed. */
const SILENT = ['203.0.113.1', '203.0.113.2', '198.51.100.3']
/** No route in the namespace. */
const NO_ROUTE = '192.0.2.1'
const probeModule = path.join(repoRoot, 'dist', 'lib', 'preflight', 'index.js')

const isRoot = process.getuid?.() === 0
const NEEDS_ROOT = 'needs root to make a network namespace (ip netns add)'

let listening: Server
let openPort: number
let closedPort: number

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const {port} = s.address() as AddressInfo
      s.close(() => resolve(port))
    })
  })
}

const ip = (...args: string[]) => execFileSync('ip', args, {stdio: ['ignore', 'ignore', 'pipe']})

function makeNamespace(): void {
  ip('netns', 'add', NS)
  ip('-n', NS, 'link', 'set', 'lo', 'up')
  ip('-n', NS, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1')
  ip('-n', NS, 'link', 'set', 'v0', 'up')
  ip('-n', NS, 'link', 'set', 'v1', 'up')
  for (const net of ['203.0.113.254/24', '198.51.100.254/24']) ip('-n', NS, 'address', 'add', net, 'dev', 'v0')
  for (const [i, address] of SILENT.entries()) ip('-n', NS, 'neigh', 'add', address, 'lladdr', `02:00:00:00:00:0${i + 1}`, 'dev', 'v0', 'nud', 'permanent')
}

/** probeAddresses run inside the namespace (the built module, as the CLI tests use), timed there. */
function probeInNamespace(ips: string[], options: object = {}): {found: Awaited<ReturnType<typeof probeAddresses>>; ms: number} {
  const script = `const {probeAddresses} = await import(process.argv[1]);
const started = Date.now();
const found = await probeAddresses(JSON.parse(process.argv[2]), JSON.parse(process.argv[3]));
console.log(JSON.stringify({found, ms: Date.now() - started}))`
  const out = execFileSync('ip', ['netns', 'exec', NS, process.execPath, '--input-type=module', '-e', script, probeModule, JSON.stringify(ips), JSON.stringify(options)], {encoding: 'utf8'})
  return JSON.parse(out) as never
}

beforeAll(async () => {
  listening = createServer((socket) => socket.end())
  await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve))
  openPort = (listening.address() as AddressInfo).port
  closedPort = await freePort()
  if (isRoot) {
    if (!existsSync(probeModule)) throw new Error(`${probeModule} is missing: run npm run build first`)
    makeNamespace()
  }
})

afterAll(async () => {
  if (isRoot) execFileSync('ip', ['netns', 'del', NS], {stdio: 'ignore'})
  await new Promise<void>((resolve) => listening.close(() => resolve()))
})

describe('probeAddresses', () => {
  it('a listening port: in use', async () => {
    expect(await probeAddresses(['127.0.0.1'], {ports: [closedPort, openPort]})).toEqual([{how: `port ${openPort} answers`, inUse: true, ip: '127.0.0.1', listening: true}])
  })

  it('a closed port on a live host: refused, so in use', async () => {
    expect(await probeAddresses(['127.0.0.1'], {ports: [closedPort]})).toEqual([{how: `port ${closedPort} refused the connection: a machine is there`, inUse: true, ip: '127.0.0.1'}])
  })

  it('an address no route leads to (ENETUNREACH): free, at once', ({skip}) => {
    if (!isRoot) skip(NEEDS_ROOT)
    const {found, ms} = probeInNamespace([NO_ROUTE], {ports: [22]})
    expect(found).toEqual([{how: 'unreachable: no machine answered for it', inUse: false, ip: NO_ROUTE}])
    expect(ms).toBeLessThan(1000)
  })

  it('addresses where nobody answers: free, within the bounded timeout, all addresses at once', ({skip}) => {
    if (!isRoot) skip(NEEDS_ROOT)
    const {found, ms} = probeInNamespace([SILENT[0]!, SILENT[1]!, '127.0.0.1'], {ports: [22, 6443], timeoutMs: 800})
    expect(found).toEqual([
      {how: 'no answer on ports 22 and 6443 within 0.8 s', inUse: false, ip: SILENT[0]},
      {how: 'no answer on ports 22 and 6443 within 0.8 s', inUse: false, ip: SILENT[1]},
      // Loopback of the namespace: up, nothing listens, so refused.
      {how: 'port 22 refused the connection: a machine is there', inUse: true, ip: '127.0.0.1'},
    ])
    // Parallel: two addresses times two ports take one timeout, not four.
    expect(ms).toBeLessThan(2500)
  })

  it('defaults: ports 22 and 6443, 1.5 s', ({skip}) => {
    if (!isRoot) skip(NEEDS_ROOT)
    const {found, ms} = probeInNamespace([SILENT[2]!])
    expect(found).toEqual([{how: 'no answer on ports 22 and 6443 within 1.5 s', inUse: false, ip: SILENT[2]}])
    expect(ms).toBeGreaterThanOrEqual(1400)
    expect(ms).toBeLessThan(3000)
  })

  it('no addresses: nothing to do', async () => {
    expect(await probeAddresses([])).toEqual([])
  })

})
