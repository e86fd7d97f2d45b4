/**
 * kp health's backup check, through the built CLI: the newest verified backup's age against
 * backup.warnAgeHours/criticalAgeHours, a damaged newest one passed over, none at all, the Prometheus
 * families, and the check left out of a default run until the backups folder exists. No network.
 */
import {copyFileSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {beforeEach, describe, expect, it} from 'vitest'

import {backupName} from '../../src/lib/etcd/backups.js'
import {repoRoot, runKp, tempDir} from '../helpers/cli.js'

const SNAPSHOT = path.join(repoRoot, 'test', 'fixtures', 'etcd', 'snapshot.db')
const SHA = 'e9000c0d9335ba0d344603a3bd8303dc0eb8c11fb06e818659f107b1add54b13'

describe('kp health --check backup', () => {
  let dir: string
  const backups = () => path.join(dir, 'state', 'clusters', 'hb', 'backups')
  const health = (...args: string[]) => runKp(['health', ...args, '-c', path.join(dir, 'kp.yaml'), '--state-dir', path.join(dir, 'state'), '--timeout', '5s'])

  beforeEach(() => {
    dir = tempDir('kp-backup-health-')
    writeFileSync(
      path.join(dir, 'kp.yaml'),
      `cluster: {name: hb, kubernetesVersion: 1.31.9, controlPlaneEndpoint: 127.0.0.1:1, cni: {manifest: https://example.invalid/cni.yaml}}
network: {gateway: 127.0.0.254, prefix: 8, dns: [127.0.0.254]}
ssh: {user: debian, agent: true}
nodes: [{name: cp1, role: control-plane, vmid: 201, ip: 127.0.0.1}]
backup: {warnAgeHours: 26, criticalAgeHours: 50}
`,
    )
  })

  /** A backup kp would have written, taken `hours` ago; `damaged` flips one byte after the sidecar. */
  function backup(hours: number, damaged = false): string {
    mkdirSync(backups(), {recursive: true})
    const at = new Date(Date.now() - hours * 3_600_000)
    const name = backupName(at, 'cp1')
    const file = path.join(backups(), name)
    copyFileSync(SNAPSHOT, file)
    writeFileSync(file.replace(/\.db$/, '.json'), JSON.stringify({
      cluster: 'hb', createdAt: at.toISOString(), dbSize: 24_576, etcdVersion: '3.4.23', file: name, format: 1, kind: 'kp-etcd-backup', kpVersion: '0.1.0',
      kubernetesVersion: '1.31.9', node: 'cp1', revision: 2, runId: 'r', sha256: SHA, size: 24_608, snapshotHash: 70_840_739, totalKeys: 5,
    }))
    if (damaged) {
      const bytes = readFileSync(file)
      bytes[10_000] = bytes[10_000]! ^ 1
      writeFileSync(file, bytes)
    }

    return name
  }

  it('none at all: WARNING saying so; left out of a default run until the folder exists', async () => {
    const none = await health('--check', 'backup')
    expect(none.code).toBe(1)
    expect(none.stdout).toMatch(/backup\s+WARNING\s+no etcd backup in .*"kp backup etcd" takes one/)
    const all = await health('--output', 'json')
    expect((JSON.parse(all.stdout) as {checks: Array<{name: string}>}).checks.map((c) => c.name)).not.toContain('backup')
    backup(1)
    const again = await health('--output', 'json')
    expect((JSON.parse(again.stdout) as {checks: Array<{name: string; status: string}>}).checks.find((c) => c.name === 'backup')?.status).toBe('OK')
  }, 60_000)

  it('OK when fresh, WARNING past warnAgeHours, CRITICAL past criticalAgeHours', async () => {
    backup(60)
    expect((await health('--check', 'backup')).stdout).toMatch(/backup\s+CRITICAL\s+newest verified backup is 60\.0 h old, from cp1 \(critical after 50 h\)/)
    backup(30)
    expect((await health('--check', 'backup')).stdout).toMatch(/backup\s+WARNING\s+newest verified backup is 30\.0 h old/)
    backup(2)
    const ok = await health('--check', 'backup', '--output', 'prometheus')
    expect(ok.code).toBe(0)
    expect(ok.stdout).toMatch(/^kp_backup_age_seconds\{cluster="hb"\} 72\d\d$/m)
    expect(ok.stdout).toMatch(/^kp_backup_last_timestamp_seconds\{cluster="hb"\} \d+$/m)
  }, 60_000)

  it('a newest backup whose bytes changed is passed over and named', async () => {
    backup(30)
    const bad = backup(1, true)
    const result = await health('--check', 'backup', '-v')
    expect(result.stdout).toMatch(/backup\s+WARNING\s+newest verified backup is 30\.0 h old, from cp1 \(warning after 26 h\); 1 newer backup\(s\) fail verification/)
    expect(result.stdout).toContain(`${bad} fails verification: its SHA-256 is`)

  }, 60_000)

  it('every backup fails verification: CRITICAL', async () => {
    backup(1, true)
    const result = await health('--check', 'backup')
    expect(result.code).toBe(2)
    expect(result.stdout).toMatch(/backup\s+CRITICAL\s+no verified etcd backup in .*: every one fails verification/)
  }, 60_000)
})
