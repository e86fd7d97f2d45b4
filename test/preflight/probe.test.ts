import {connect, createServer, type AddressInfo, type Server} from 'node:net'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {probeAddresses} from '../../src/lib/preflight/index.js'

let listening: Server
let openPort: number
let closedPort: number
/**
 * Some sandboxes answer every outbound connection themselves (a transparent proxy): there, no
 * routed address is silent, and the TEST-NET cases cannot be run.
 */
let everythingAnswers = false

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const {port} = s.address() as AddressInfo
      s.close(() => resolve(port))
    })
  })
}

beforeAll(async () => {
  listening = createServer((socket) => socket.end())
  await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve))
  openPort = (listening.address() as AddressInfo).port
  closedPort = await freePort()
  everythingAnswers = await new Promise<boolean>((resolve) => {
    const socket = connect({host: '203.0.113.7', port: 22, timeout: 1000})
    const done = (answered: boolean) => {
      socket.destroy()
      resolve(answered)
    }

    socket.once('connect', () => done(true)).once('error', () => done(false)).once('timeout', () => done(false))
  })
})

afterAll(() => new Promise<void>((resolve) => listening.close(() => resolve())))

describe('probeAddresses', () => {
  it('a listening port: in use', async () => {
    expect(await probeAddresses(['127.0.0.1'], {ports: [closedPort, openPort]})).toEqual([{how: `port ${openPort} answers`, inUse: true, ip: '127.0.0.1', listening: true}])
  })

  it('a closed port on a live host: refused, so in use', async () => {
    expect(await probeAddresses(['127.0.0.1'], {ports: [closedPort]})).toEqual([{how: `port ${closedPort} refused the connection: a machine is there`, inUse: true, ip: '127.0.0.1'}])
  })

  it('an address no route leads to (ENETUNREACH): free', async () => {
    // Linux refuses TCP to a multicast address at once, whatever the routes.
    expect(await probeAddresses(['224.0.0.1'], {ports: [22]})).toEqual([{how: 'unreachable: no machine answered for it', inUse: false, ip: '224.0.0.1'}])
  })

  it('an unroutable TEST-NET address: free, within the bounded timeout, all addresses at once', async ({skip}) => {
    if (everythingAnswers) skip('this machine\'s network answers for every address')
    const started = Date.now()
    const found = await probeAddresses(['203.0.113.1', '203.0.113.2', '127.0.0.1'], {ports: [22, closedPort], timeoutMs: 800})
    expect(Date.now() - started).toBeLessThan(2500)
    expect(found.map((p) => [p.ip, p.inUse])).toEqual([
      ['203.0.113.1', false],
      ['203.0.113.2', false],
      ['127.0.0.1', true],
    ])
    expect(found[0]!.how).toMatch(/^(no answer on ports 22 and \d+ within 0.8 s|unreachable: no machine answered for it)$/)
  })

  it('defaults: ports 22 and 6443, 1.5 s', async ({skip}) => {
    if (everythingAnswers) skip('this machine\'s network answers for every address')
    const started = Date.now()
    const [probe] = await probeAddresses(['198.51.100.3'])
    expect(probe).toMatchObject({inUse: false, ip: '198.51.100.3'})
    expect(Date.now() - started).toBeLessThan(3000)
    if (probe!.how?.startsWith('no answer')) expect(probe!.how).toBe('no answer on ports 22 and 6443 within 1.5 s')
  })

  it('no addresses: nothing to do', async () => {
    expect(await probeAddresses([])).toEqual([])
  })
})
