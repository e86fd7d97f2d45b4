/** kp health's outputs and flags: Prometheus (checked with a real parser), the textfile, JSON, --check, and failures of kp itself. */
import {execFile} from 'node:child_process'
import {existsSync, linkSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {HealthReport} from '../../src/lib/health/types.js'
import {kpBin, kpEnv, type KpResult, parseEnvelope, repoRoot, runKp, tempDir} from '../helpers/cli.js'
import {type HealthLab, parseReport, startHealthLab, writeHealthConfig} from './helpers.js'

/** kp under a umask of 077, as a hardened cron environment may run it. */
function runKpUmask077(args: string[]): Promise<KpResult> {
  return new Promise((resolve) => {
    execFile('/bin/sh', ['-c', 'umask 077; exec "$@"', 'sh', process.execPath, kpBin, ...args], {cwd: repoRoot, encoding: 'utf8', env: kpEnv(), timeout: 60_000}, (error, stdout, stderr) => {
      resolve({code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr, stdout})
    })
  })
}

describe('kp health output', () => {
  let lab: HealthLab
  beforeAll(async () => {
    lab = await startHealthLab()
    // One WARNING, so the outputs carry more than zeros.
    lab.kube.setFaults({blockPdbs: ['default/web']})
  })
  afterAll(async () => {
    await lab.close()
  })

  it('prints the Prometheus text format a real parser reads, with HELP and TYPE for every family', async () => {
    const result = await lab.run(['--output', 'prometheus'])
    expect(result.code).toBe(1)
    const families = parsePrometheusTextFormat(result.stdout)
    const byName = new Map(families.map((f) => [f.name, f]))
    for (const f of families) {
      expect(f.type).toBe('GAUGE')
      expect(f.help.length).toBeGreaterThan(10)
    }

    const value = (name: string, labels: Record<string, string> = {}) => byName.get(name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value
    expect(value('kp_health_up', {cluster: 'testlab'})).toBe('1')
    expect(value('kp_health_status', {cluster: 'testlab'})).toBe('1')
    expect(value('kp_health_check_status', {check: 'pdbs', cluster: 'testlab'})).toBe('1')
    expect(value('kp_health_check_status', {check: 'nodes', cluster: 'testlab'})).toBe('0')
    expect(value('kp_health_check_ok', {check: 'pdbs'})).toBe('0')
    expect(value('kp_health_check_ok', {check: 'api'})).toBe('1')
    expect(byName.get('kp_health_check_status')?.metrics.map((m) => m.labels?.check)).toEqual(['api', 'etcd', 'nodes', 'kube-system', 'workloads', 'pdbs', 'csrs', 'apiserver-certificate'])
    const expiry = Number(value('kp_health_certificate_expiry_timestamp_seconds', {certificate: 'apiserver'}))
    expect(expiry * 1000).toBeGreaterThan(Date.now())
    expect(Number(value('kp_health_duration_seconds'))).toBeGreaterThan(0)
    expect(Number(value('kp_health_last_run_timestamp_seconds')) * 1000).toBeLessThanOrEqual(Date.now())
    // Sample timestamps are refused by the textfile collector: none anywhere.
    for (const line of result.stdout.split('\n').filter((l) => l && !l.startsWith('#'))) expect(line).toMatch(/^[a-z_]+\{[^}]*\} \S+$/)
  })

  it('--prometheus-file: the same content, mode 0644 under umask 077, renamed into place', async () => {
    const dir = tempDir('kp-health-textfile-')
    const file = path.join(dir, 'kp.prom')
    writeFileSync(file, 'old complete content\n', {mode: 0o600})
    // A reader that opened the old file keeps reading it whole: the new one replaces it, it is not rewritten.
    linkSync(file, path.join(dir, 'reader-view'))
    const before = statSync(file).ino
    const result = await runKpUmask077(['health', '-c', lab.config, '--state-dir', path.join(lab.dir, 'state'), '--output', 'prometheus', '--prometheus-file', file])
    expect(result.code).toBe(1)
    expect(readFileSync(file, 'utf8')).toBe(result.stdout)
    expect(statSync(file).mode & 0o777).toBe(0o644)
    expect(statSync(file).ino).not.toBe(before)
    expect(readFileSync(path.join(dir, 'reader-view'), 'utf8')).toBe('old complete content\n')
    expect(readdirSync(dir).sort()).toEqual(['kp.prom', 'reader-view'])
  })

  it('--prometheus-file beside text output; a file it cannot write makes the run UNKNOWN', async () => {
    const dir = tempDir('kp-health-textfile-')
    const ok = await lab.run(['--prometheus-file', path.join(dir, 'kp.prom')])
    expect(ok.stdout).toMatch(/^kp health testlab: WARNING/)
    expect(parsePrometheusTextFormat(readFileSync(path.join(dir, 'kp.prom'), 'utf8')).length).toBeGreaterThan(5)
    const missing = await lab.run(['--prometheus-file', path.join(dir, 'no', 'such', 'dir', 'kp.prom')])
    expect(missing.code).toBe(3)
    expect(missing.stderr).toContain('could not write')
    expect(missing.stdout).toMatch(/^kp health testlab: WARNING/)
  })

  it('text output is coloured through chalk: FORCE_COLOR=1 paints the statuses, NO_COLOR=1 (the tests\' default) none', async () => {
    const forced = await lab.run([], {env: {FORCE_COLOR: '1'}})
    expect(forced.stdout.startsWith('kp health testlab: \u001B[33mWARNING\u001B[39m (')).toBe(true)
    expect(forced.stdout).toContain('\u001B[32mOK\u001B[39m')
    const none = await lab.run()
    expect(none.stdout).toMatch(/^kp health testlab: WARNING \(/)
    expect(none.stdout).not.toContain('\u001B[')
  })

  it('colour never reaches the machine-readable outputs, even with FORCE_COLOR=1', async () => {
    expect((await lab.run(['--output', 'prometheus'], {env: {FORCE_COLOR: '1'}})).stdout).not.toContain('\u001B[')
    expect((await lab.run(['--output', 'json'], {env: {FORCE_COLOR: '1'}})).stdout).not.toContain('\u001B[')
  })

  it('--output json: a stable document with the overall status, every check and durations', async () => {
    const r = await lab.report()
    expect(Object.keys(r.report).sort()).toEqual(['checks', 'cluster', 'durationMs', 'exitCode', 'startedAt', 'status', 'timeoutMs', 'up'])
    expect(r.report).toMatchObject({cluster: 'testlab', exitCode: 1, status: 'WARNING', timeoutMs: 20_000, up: true})
    for (const check of r.report.checks) {
      expect(Object.keys(check).filter((k) => k !== 'certificate').sort()).toEqual(['details', 'durationMs', 'name', 'reason', 'status'])
    }

    expect(r.report.checks.find((c) => c.name === 'pdbs')?.details).toEqual([expect.stringMatching(/^WARNING: default\/web allows no disruption/)])
    expect(r.code).toBe(1)
  })

  it('--json: the same document in kp’s envelope, the exit code still the worst status', async () => {
    const result = await lab.run(['--json'])
    const envelope = parseEnvelope<HealthReport>(result.stdout)
    expect(envelope).toMatchObject({command: 'health', ok: true, result: {status: 'WARNING'}})
    expect(envelope.result?.checks).toHaveLength(8)
    expect(result.code).toBe(1)
  })

  it('--check selects checks, in report order, and asks the API only what they need', async () => {
    const from = lab.kube.requestLog.length
    const r = await lab.report(['--check', 'pdbs', '--check', 'nodes'])
    expect(r.report.checks.map((c) => c.name)).toEqual(['nodes', 'pdbs'])
    const paths = lab.kube.requestLog.slice(from).map((e) => e.path)
    expect(paths).not.toContain('/readyz')
    expect(paths).toContain('/apis/policy/v1/poddisruptionbudgets')
    expect(r.code).toBe(1)
  })

  it('--check takes a comma list as kubectl does, repeated flags too, each check once', async () => {
    const r = await lab.report(['--check', 'pdbs,api', '--check', 'nodes', '--check=api'])
    expect(r.report.checks.map((c) => c.name)).toEqual(['api', 'nodes', 'pdbs'])
  })

  it('an unknown check in a comma list is a usage error (exit 2) that names it and lists the checks', async () => {
    const result = await lab.run(['--check', 'api,etdc'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('Expected --check=etdc to be one of: api, etcd, nodes, kube-system, workloads, pdbs, csrs, apiserver-certificate, proxmox')
  })

  it('an unknown check is a usage error (exit 2) that lists the names', async () => {
    const result = await lab.run(['--check', 'etdc'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('api, etcd, nodes, kube-system, workloads, pdbs, csrs, apiserver-certificate, proxmox')
  })

  it('--check proxmox without a proxmox section, and a bad --timeout, are usage errors', async () => {
    expect((await lab.run(['--check', 'proxmox'])).code).toBe(2)
    const timeout = await lab.run(['--timeout', 'soon'])
    expect(timeout.code).toBe(2)
    expect(timeout.stderr).toContain('--timeout soon is not a duration')
  })
})

describe('kp health when kp itself cannot check', () => {
  it('an invalid kp.yaml: exit 3, every check UNKNOWN, the error on stderr, kp_health_up 0 in the file', async () => {
    const dir = tempDir('kp-health-broken-')
    const config = path.join(dir, 'kp.yaml')
    writeFileSync(config, 'cluster:\n  name: broken\n  kubernetesVersion: one\n')
    const file = path.join(dir, 'kp.prom')
    const result = await runKp(['health', '-c', config, '--prometheus-file', file])
    expect(result.code).toBe(3)
    expect(result.stdout).toMatch(/^kp health broken: UNKNOWN \(8 unknown\)/)
    expect(result.stdout).toContain('kp.yaml could not be used')
    expect(result.stderr).toContain('kubernetesVersion')
    const families = parsePrometheusTextFormat(readFileSync(file, 'utf8'))
    expect(families.find((f) => f.name === 'kp_health_up')?.metrics[0]).toEqual({labels: {cluster: 'broken'}, value: '0'})
    const json = await runKp(['health', '-c', config, '--json'])
    expect(json.code).toBe(3)
    expect(parseEnvelope(json.stdout)).toMatchObject({error: {exitCode: 3, kind: 'config'}, ok: false})
  })

  it('a missing kubeconfig: the Kubernetes checks UNKNOWN, naming it, exit 3', async () => {
    const dir = tempDir('kp-health-nokube-')
    const config = writeHealthConfig(dir, path.join(dir, 'missing.conf'))
    const result = await runKp(['health', '-c', config, '--output', 'json'])
    const report = parseReport(result)
    expect(result.code).toBe(3)
    expect(report.up).toBe(true)
    for (const check of report.checks) {
      expect(check.status).toBe('UNKNOWN')
      expect(check.reason).toContain('missing.conf does not exist')
    }
  })

  it('kp health --help loads none of the heavy modules', async () => {
    const log = path.join(tempDir(), 'modules.log')
    const code = await new Promise<number>((resolve) => {
      execFile(process.execPath, ['--import', path.join(repoRoot, 'test', 'fixtures', 'probe', 'record-modules.mjs'), kpBin, 'health', '--help'], {env: kpEnv({KP_MODULE_LOG: log})}, (error) => resolve(error ? 1 : 0))
    })
    expect(code).toBe(0)
    expect(existsSync(log)).toBe(true)
    const loaded = readFileSync(log, 'utf8')
    expect(loaded).toContain('/node_modules/@oclif/core/')
    for (const heavy of ['@kubernetes/client-node', 'proxmox-api', 'execa', 'undici', 'yaml']) expect(loaded).not.toContain(`/node_modules/${heavy}/`)
  })
})
