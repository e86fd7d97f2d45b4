/**
 * The Proxmox adapter against the lab's in-process fake: a fresh simulated host per test (template
 * 9000, fast tasks, state in a temporary folder) and a client whose log and warning lines are kept.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {FAST_TASKS} from '../lab/proxmox/helpers.js'
import {type FakeProxmox, type FakeProxmoxOptions, MemoryBackend, seededRandom, startFakeProxmox} from '../../src/lib/lab/proxmox/index.js'
import {type ConnectOptions, connectProxmox, type PveConnection} from '../../src/lib/proxmox/client.js'

export const TOKEN = {id: 'kp@pve!automation', secret: '5f3b9c1e-8a6d-4f0b-9d2e-7c4a1b3e6f80'}
export const NODE = 'pve1'
export const TEMPLATE = 9000
// The fake's own test fixtures: the same key and fast task durations.
export {SSH_KEY} from '../lab/proxmox/helpers.js'

export interface Lab {
  backend: MemoryBackend
  close(): Promise<void>
  dir: string
  server: FakeProxmox
}

export async function startLab(overrides: Partial<FakeProxmoxOptions> = {}): Promise<Lab> {
  const dir = mkdtempSync(path.join(tmpdir(), 'kp-pve-adapter-'))
  const backend = new MemoryBackend()
  const server = await startFakeProxmox({
    backend,
    // One certificate set for all these tests: generating one per test is slow.
    certDir: path.join(tmpdir(), 'kp-pve-adapter-test-certs'),
    stateFile: path.join(dir, 'state.json'),
    taskDurations: FAST_TASKS,
    templates: [{name: 'debian-12-cloudinit', vmid: TEMPLATE}],
    tokens: [TOKEN],
    ...overrides,
  })
  return {
    backend,
    async close() {
      await server.close()
      rmSync(dir, {force: true, recursive: true})
    },
    dir,
    server,
  }
}

export interface Client {
  logs: string[]
  pve: PveConnection
  warnings: string[]
}

/** A client pinned to the fake's fingerprint unless the options say otherwise. */
export function connect(server: FakeProxmox, options: Partial<ConnectOptions> = {}): Client {
  const logs: string[] = []
  const warnings: string[] = []
  const pve = connectProxmox({
    endpoint: server.url,
    fingerprint: server.fingerprint,
    log: (line) => logs.push(line),
    tokenId: TOKEN.id,
    tokenSecret: TOKEN.secret,
    warn: (line) => warnings.push(line),
    ...options,
  })
  return {logs, pve, warnings}
}

/** The rejection of a promise, for assertions on its fields (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise
  } catch (error) {
    return error as Error & Record<string, unknown>
  }

  throw new Error('expected a rejection')
}

/** Requests in the fake's log for this method and path (a schema template or a concrete path). */
export function requests(server: FakeProxmox, method: string, pathOrRoute: string) {
  return server.requestLog.filter((e) => e.method === method && (e.route === pathOrRoute || e.path === `/api2/json${pathOrRoute}`))
}

/** A fault seed whose first `failures` draws fall under `rate` and the next one does not. */
export function seedFailingFirst(failures: number, rate: number): number {
  for (let seed = 1; ; seed++) {
    const random = seededRandom(seed)
    const draws = Array.from({length: failures + 1}, () => random())
    if (draws.slice(0, failures).every((d) => d < rate) && (draws[failures] ?? 0) >= rate) return seed
  }
}
