/**
 * When nothing answers, kp health still returns by its deadline and says so: the api check is
 * CRITICAL (an API that does not answer is down), the checks that need the API are UNKNOWN, and the
 * exit code is the worst, 2. The tests' own timeouts are the assertion that kp returns; no wall-clock
 * durations are asserted. kp needs a second or more to load the Kubernetes client, more on a busy
 * machine, so only a run where nothing can answer uses a deadline as short as 2s.
 */
import {readFileSync, writeFileSync} from 'node:fs'
import {createServer, type Server, type Socket} from 'node:net'
import path from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {runKp, tempDir} from '../helpers/cli.js'
import {startTestKube} from '../lab/kube/helpers.js'
import {type HealthLab, parseReport, startHealthLab, writeHealthConfig} from './helpers.js'

/** A kubeconfig like the fake's, pointing at another server. */
async function kubeconfigFor(dir: string, server: string): Promise<string> {
  const t = await startTestKube({}, dir)
  await t.kube.close()
  const file = path.join(dir, 'elsewhere.conf')
  writeFileSync(file, readFileSync(t.kubeconfig, 'utf8').replace(/server: .*/, `server: ${server}`), {mode: 0o600})
  return file
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as {port: number}).port
}

describe('kp health when nothing answers', () => {
  const sockets: Socket[] = []
  let silent: Server | undefined
  let lab: HealthLab | undefined
  afterEach(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => (silent ? silent.close(() => resolve()) : resolve()))
    silent = undefined
    await lab?.close()
    lab = undefined
  })

  it('an API server that accepts connections and never answers: exit 2 by the deadline, api CRITICAL, the rest UNKNOWN', {timeout: 30_000}, async () => {
    silent = createServer((socket) => sockets.push(socket))
    const port = await listen(silent)
    const dir = tempDir('kp-health-silent-')
    const config = writeHealthConfig(dir, await kubeconfigFor(dir, `https://127.0.0.1:${port}`))
    const result = await runKp(['health', '-c', config, '--timeout', '2s', '--output', 'json'], {timeoutMs: 25_000})
    const report = parseReport(result)
    expect(result.code).toBe(2)
    expect(report.status).toBe('CRITICAL')
    const api = report.checks.find((c) => c.name === 'api')!
    expect(api).toMatchObject({reason: 'no answer within 2s', status: 'CRITICAL'})
    for (const check of report.checks.filter((c) => c.name !== 'api')) expect(check).toMatchObject({reason: 'no answer within 2s', status: 'UNKNOWN'})
    expect(report.checks.map((c) => c.name)).toEqual(['api', 'etcd', 'nodes', 'kube-system', 'workloads', 'pdbs', 'csrs', 'apiserver-certificate'])
  })

  it('a closed port: exit 2, api CRITICAL with the refusal, the rest UNKNOWN', {timeout: 55_000}, async () => {
    const closed = createServer()
    const port = await listen(closed)
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    const dir = tempDir('kp-health-closed-')
    const config = writeHealthConfig(dir, await kubeconfigFor(dir, `https://127.0.0.1:${port}`))
    const short = parseReport(await runKp(['health', '-c', config, '--timeout', '2s', '--output', 'json'], {timeoutMs: 25_000}))
    // On a busy machine the deadline may come before kp has even tried: either way the API is down.
    expect(short).toMatchObject({exitCode: 2, status: 'CRITICAL'})
    expect(short.checks[0]).toMatchObject({name: 'api', status: 'CRITICAL'})
    expect(short.checks[0]?.reason).toMatch(/ECONNREFUSED|no answer within 2s/)
    expect(short.checks.slice(1).every((c) => c.status === 'UNKNOWN')).toBe(true)
    // With time to spare, the refusal itself is what the operator reads.
    const result = await runKp(['health', '-c', config, '--timeout', '20s'], {timeoutMs: 25_000})
    expect(result.code).toBe(2)
    const lines = result.stdout.split('\n')
    expect(lines[0]).toMatch(/^kp health testlab: CRITICAL \(1 critical, 7 unknown\)/)
    expect(lines.find((l) => l.startsWith('api '))).toMatch(/CRITICAL\s+could not reach the Kubernetes API at https:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/)
    expect(lines.find((l) => l.startsWith('nodes '))).toMatch(/UNKNOWN\s+could not reach the Kubernetes API .*ECONNREFUSED/)
  })

  it('one slow answer: only that check is UNKNOWN, exit 3', {timeout: 30_000}, async () => {
    lab = await startHealthLab()
    // The other checks must finish within the deadline on a busy machine too, so it is not tight.
    lab.kube.setFaults({latency: [{ms: 12_000, path: '/apis/policy/v1/poddisruptionbudgets'}]})
    const r = await lab.report(['--timeout', '6s'])
    expect(r.status('pdbs')).toBe('UNKNOWN')
    expect(r.reason('pdbs')).toBe('no answer within 6s')
    expect(r.report.checks.filter((c) => c.status !== 'OK').map((c) => c.name)).toEqual(['pdbs'])
    expect(r.code).toBe(3)
  })

  it('a Proxmox API that does not answer: proxmox CRITICAL by the deadline, the Kubernetes checks still OK', {timeout: 30_000}, async () => {
    lab = await startHealthLab({proxmox: true})
    lab.pve!.server.setFaults({latency: [{ms: 12_000}]})
    const r = await lab.report(['--timeout', '6s'])
    expect(r.status('proxmox')).toBe('CRITICAL')
    expect(r.reason('proxmox')).toBe('no answer within 6s')
    expect(r.report.checks.filter((c) => c.status !== 'OK').map((c) => c.name)).toEqual(['proxmox'])
    expect(r.code).toBe(2)
    lab.pve!.server.setFaults({})
  })
})
