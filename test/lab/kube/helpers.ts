/**
 * A raw HTTPS client for the fake Kubernetes API (Node's https with the admin client certificate, no
 * kp code), the real kubectl as a second client, and a server starter with fast controllers.
 */
import {execFile} from 'node:child_process'
import {existsSync, mkdtempSync} from 'node:fs'
import {request} from 'node:https'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {type FakeKube, type FakeKubeOptions, startFakeKube} from '../../../src/lib/lab/kube/index.js'

export const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p))

/** One PKI for all tests (the default is a folder beside the state file). */
export const TEST_CERT_DIR = path.join(tmpdir(), 'kp-fake-kube-test-pki')

export interface Answer {
  body: unknown
  headers: Record<string, string | string[] | undefined>
  status: number
}

export interface CallOptions {
  accept?: string
  /** Send no client certificate. */
  anonymous?: boolean
  contentType?: string
  /** Send a string body as it is (YAML), not JSON-encoded. */
  raw?: boolean
}

export function call(kube: FakeKube, method: string, apiPath: string, body?: unknown, options: CallOptions = {}): Promise<Answer> {
  const text = body === undefined ? undefined : options.raw && typeof body === 'string' ? body : JSON.stringify(body)
  const headers: Record<string, string> = {Accept: options.accept ?? 'application/json'}
  if (text !== undefined) {
    headers['Content-Type'] = options.contentType ?? 'application/json'
    headers['Content-Length'] = String(Buffer.byteLength(text))
  }
  return new Promise((resolve, reject) => {
    const req = request(
      {
        ca: kube.caPem,
        ...(options.anonymous ? {} : {cert: kube.pki.admin.certPem, key: kube.pki.admin.keyPem}),
        headers,
        host: kube.host,
        method,
        path: apiPath,
        port: kube.port,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8')
          let parsed: unknown = raw
          try {
            parsed = JSON.parse(raw)
          } catch {
            // text answers (/readyz)
          }
          resolve({body: parsed, headers: res.headers, status: res.statusCode ?? 0})
        })
      },
    )
    req.on('error', reject)
    req.end(text)
  })
}

export interface TestKube {
  dir: string
  kube: FakeKube
  kubeconfig: string
  stateFile: string
}

export async function startTestKube(overrides: Partial<FakeKubeOptions> = {}, dir = mkdtempSync(path.join(tmpdir(), 'kp-fake-kube-'))): Promise<TestKube> {
  const stateFile = path.join(dir, 'state.json')
  const kube = await startFakeKube({certDir: TEST_CERT_DIR, controllerIntervalMs: 50, gracePeriodScale: 0.01, stateFile, ...overrides})
  const kubeconfig = await kube.writeKubeconfig(path.join(dir, 'kubeconfig'))
  return {dir, kube, kubeconfig, stateFile}
}

export interface KubectlResult {
  code: number
  stderr: string
  stdout: string
}

/** Run the real kubectl against the server; never throws on a non-zero exit. */
export function kubectl(t: TestKube, args: string[]): Promise<KubectlResult> {
  return new Promise((resolve) => {
    execFile(KUBECTL ?? 'kubectl', ['--kubeconfig', t.kubeconfig, '--cache-dir', path.join(t.dir, 'cache'), ...args], {timeout: 60_000}, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0
      resolve({code, stderr, stdout})
    })
  })
}

/**
 * The real kubectl against a lab cluster's kubeconfig, as an operator runs it (5 s per request, so a
 * sampler sees an API that does not answer); never throws on a non-zero exit.
 */
export function labKubectl(kubeconfig: string): (args: string[], input?: string) => Promise<KubectlResult> {
  return (args, input) =>
    new Promise((resolve) => {
      const child = execFile(KUBECTL ?? 'kubectl', ['--kubeconfig', kubeconfig, '--request-timeout=5s', ...args], {encoding: 'utf8', timeout: 60_000}, (error, stdout, stderr) => {
        resolve({code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr, stdout})
      })
      if (input !== undefined) child.stdin!.end(input)
    })
}

/** Wait on a condition with a timeout (no fixed sleeps). */
export async function until<T>(what: string, check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const value = check()
    if (value) return value
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
