/**
 * A plain HTTPS client for the simulated Proxmox API (Node's https, CA pinned and fingerprint checked,
 * no kp code), and a lab starter with short task durations.
 */
import {mkdtempSync} from 'node:fs'
import {request} from 'node:https'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {checkServerIdentity, type PeerCertificate} from 'node:tls'

import {type FakeProxmox, type FakeProxmoxOptions, MemoryBackend, startFakeProxmox} from '../../../src/lib/lab/proxmox/index.js'

export const TOKEN = {id: 'kp@pve!automation', secret: '5f3b9c1e-8a6d-4f0b-9d2e-7c4a1b3e6f80'}

export interface Answer {
  body: {data: unknown; errors?: Record<string, string>; total?: number} | undefined
  headers: Record<string, string | string[] | undefined>
  raw: string
  status: number
  statusText: string
}

export interface CallOptions {
  /** The whole Authorization header; `null` sends none. */
  authorization?: string | null
  /** Ask for these parameters as JSON instead of a form. */
  json?: boolean
}

export type Params = Record<string, string | number | boolean>

function encode(params: Params): string {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) search.set(key, value === true ? '1' : value === false ? '0' : String(value))
  return search.toString()
}

/** One API call: GET/DELETE parameters in the query string, POST/PUT form-encoded. */
export function call(server: FakeProxmox, method: string, apiPath: string, params: Params = {}, options: CallOptions = {}): Promise<Answer> {
  const inBody = method === 'POST' || method === 'PUT'
  const query = encode(params)
  const body = inBody ? (options.json ? JSON.stringify(params) : query) : ''
  const headers: Record<string, string> = {}
  const authorization = options.authorization === undefined ? `PVEAPIToken=${TOKEN.id}=${TOKEN.secret}` : options.authorization
  if (authorization !== null) headers.Authorization = authorization
  if (inBody && body !== '') {
    headers['Content-Type'] = options.json ? 'application/json' : 'application/x-www-form-urlencoded'
    headers['Content-Length'] = String(Buffer.byteLength(body))
  }
  return new Promise((resolve, reject) => {
    const req = request(
      {
        ca: server.caPem,
        checkServerIdentity: (host: string, cert: PeerCertificate) => {
          if (cert.fingerprint256 !== server.fingerprint) return new Error(`fingerprint ${cert.fingerprint256} is not the pinned one`)
          return checkServerIdentity(host, cert)
        },
        headers,
        host: server.host,
        method,
        path: `/api2/json${apiPath}${!inBody && query ? `?${query}` : ''}`,
        port: server.port,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8')
          resolve({
            body: raw === '' ? undefined : (JSON.parse(raw) as Answer['body']),
            headers: res.headers,
            raw,
            status: res.statusCode ?? 0,
            statusText: res.statusMessage ?? '',
          })
        })
      },
    )
    req.on('error', reject)
    req.end(inBody ? body : undefined)
  })
}

/** The data of a 200 answer; throws with the status line otherwise. */
export async function ok<T = unknown>(answer: Promise<Answer>): Promise<T> {
  const a = await answer
  if (a.status !== 200) throw new Error(`${a.status} ${a.statusText} ${a.raw}`)
  return a.body?.data as T
}

export interface TaskStatus {
  exitstatus?: string
  status: 'running' | 'stopped'
  type: string
  upid: string
  user: string
}

/** Poll a task until it stops, the way a client does. */
export async function waitTask(server: FakeProxmox, upid: string, node = 'pve1', timeoutMs = 20_000): Promise<TaskStatus> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const status = await ok<TaskStatus>(call(server, 'GET', `/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`))
    if (status.status === 'stopped') return status
    if (Date.now() > until) throw new Error(`task ${upid} still running`)
    await new Promise((r) => setTimeout(r, 15))
  }
}

/** Run an asynchronous call and wait for its task; returns the final status. */
export async function runTask(server: FakeProxmox, method: string, apiPath: string, params: Params = {}): Promise<TaskStatus> {
  const upid = await ok<string>(call(server, method, apiPath, params))
  return waitTask(server, upid, /^\/nodes\/([^/]+)/.exec(apiPath)?.[1])
}

export async function taskLog(server: FakeProxmox, upid: string, node = 'pve1'): Promise<string[]> {
  const lines = await ok<Array<{n: number; t: string}>>(call(server, 'GET', `/nodes/${node}/tasks/${encodeURIComponent(upid)}/log`, {limit: 1000}))
  return lines.map((l) => l.t)
}

/** `sshkeys` as the API wants it: percent-encoded (spaces as %20) before the form encoding. */
export function sshkeysParam(keys: string[]): string {
  return encodeURIComponent(keys.join('\n'))
}

export const SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq2m3bVJ7nXz1Tq4vS0o8k0lqkJ3nV6m8p2yQ3t9Hc1 ops@laptop'

export const FAST_TASKS = {
  qmclone: 40,
  qmconfig: 5,
  qmdelsnapshot: 5,
  qmdestroy: 5,
  qmreboot: 5,
  qmrollback: 5,
  qmshutdown: 5,
  qmsnapshot: 5,
  qmstart: 5,
  qmstop: 5,
  qmtemplate: 5,
  resize: 5,
}

export interface TestLab {
  backend: MemoryBackend
  dir: string
  server: FakeProxmox
  stateFile: string
}

export function labDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'kp-fake-pve-'))
}

/** A simulated host with template 9000, fast tasks, and state in a fresh folder. */
export async function startLab(overrides: Partial<FakeProxmoxOptions> = {}, dir = labDir()): Promise<TestLab> {
  const backend = (overrides.backend as MemoryBackend | undefined) ?? new MemoryBackend()
  const stateFile = path.join(dir, 'state.json')
  const server = await startFakeProxmox({
    backend,
    // One certificate set for all tests (the default is a folder beside the state file).
    certDir: path.join(tmpdir(), 'kp-fake-pve-test-certs'),
    stateFile,
    taskDurations: FAST_TASKS,
    templates: [{name: 'debian-12-cloudinit', vmid: 9000}],
    tokens: [TOKEN],
    ...overrides,
  })
  return {backend, dir, server, stateFile}
}

/** Clone the template to `newid` and wait for it. */
export async function cloneTemplate(server: FakeProxmox, newid: number, params: Params = {}): Promise<TaskStatus> {
  return runTask(server, 'POST', '/nodes/pve1/qemu/9000/clone', {name: `vm${newid}`, newid, ...params})
}
