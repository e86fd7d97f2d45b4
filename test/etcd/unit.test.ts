/**
 * The etcd domain module: parsers fed with real etcdctl 3.4.23 output (test/fixtures/etcd/, captured
 * from /usr/bin/etcdctl against a local TLS etcd), the laptop's snapshot check on a real snapshot,
 * the command builder, listing and retention.
 */
import {copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {backupName, backupRows, deleteBackup, leftovers, listBackups, retentionVictims, type Sidecar, verifyFile} from '../../src/lib/etcd/backups.js'
import {etcdctlCommand, etcdctlError} from '../../src/lib/etcd/etcdctl.js'
import {receiveFile} from '../../src/lib/etcd/receive.js'
import {parseEndpointHealth, parseEndpointStatus, parseMemberList, parseSnapshotStatus} from '../../src/lib/etcd/parse.js'
import {checkSnapshotFile} from '../../src/lib/etcd/snapshot-file.js'
import {commandLine} from '../../src/lib/ssh/quote.js'
import {repoRoot, tempDir} from '../helpers/cli.js'

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'etcd')
const fixture = (name: string) => readFileSync(path.join(fixtures, name), 'utf8')
const SNAPSHOT = path.join(fixtures, 'snapshot.db')

describe('etcdctl output', () => {
  it('member list: ids kept exactly as hex (past 2^53), names, URLs', () => {
    expect(parseMemberList(fixture('member-list.json'))).toEqual([
      {clientUrls: ['https://127.0.0.1:23791'], id: 'bdae9bbc11dd390d', isLearner: false, name: 'cp1', peerUrls: ['http://127.0.0.1:23801']},
    ])
  })

  it('member list: a member added but never started has no name', () => {
    const members = parseMemberList(fixture('member-list-unstarted.json'))
    expect(members.map((m) => [m.id, m.name, m.clientUrls])).toEqual([
      ['acd326b3e2272eda', '', []],
      ['bdae9bbc11dd390d', 'cp1', ['https://127.0.0.1:23791']],
    ])
  })

  it('endpoint status: member, leader, revision, sizes, raft', () => {
    expect(parseEndpointStatus(fixture('endpoint-status.json'))).toEqual({
      clusterId: 'd1cfaf999eb97a2a',
      dbSize: 24_576,
      dbSizeInUse: 16_384,
      endpoint: 'https://127.0.0.1:23791',
      errors: [],
      leader: 'bdae9bbc11dd390d',
      memberId: 'bdae9bbc11dd390d',
      raftAppliedIndex: 6,
      raftIndex: 6,
      raftTerm: 2,
      revision: 2,
      version: '3.4.23',
    })
  })

  it('endpoint health: healthy, and the unhealthy line etcdctl prints with exit 1', () => {
    expect(parseEndpointHealth(fixture('endpoint-health.json'))).toEqual({health: true})
    expect(parseEndpointHealth('[{"endpoint":"https://127.0.0.1:23799","health":false,"took":"3.0s","error":"context deadline exceeded"}]')).toEqual({
      error: 'context deadline exceeded',
      health: false,
    })
  })

  it('snapshot status', () => {
    expect(parseSnapshotStatus(fixture('snapshot-status.json'))).toEqual({hash: 70_840_739, revision: 2, totalKey: 5, totalSize: 24_576})
  })

  it('refuses output that is not what etcdctl prints', () => {
    expect(() => parseEndpointStatus('[]')).toThrow(/no endpoint/)
    expect(() => parseSnapshotStatus('Error: snapshot file not found')).toThrow(/did not print JSON/)
  })

  it("the error line of etcdctl's stderr, without its warn logs", () => {
    const stderr = '{"level":"warn","msg":"retrying of unary invoker failed"}\nError: unhealthy cluster\n'
    expect(etcdctlError({code: 1, stderr})).toBe('unhealthy cluster')
  })
})

describe('the etcdctl command', () => {
  it('runs etcdctl in the running etcd container with kubeadm certificates, arguments never parsed by a shell', () => {
    const argv = etcdctlCommand(['snapshot', 'save', "/var/lib/etcd/x'; rm -rf / #.db"])
    expect(argv.slice(0, 2)).toEqual(['sh', '-c'])
    expect(argv[2]).toContain("crictl ps --name '^etcd$' --state Running -q")
    expect(argv[2]).toContain('crictl exec "$id" etcdctl "$@"')
    expect(argv.slice(4)).toEqual([
      '--endpoints=https://127.0.0.1:2379',
      '--cacert=/etc/kubernetes/pki/etcd/ca.crt',
      '--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt',
      '--key=/etc/kubernetes/pki/etcd/healthcheck-client.key',
      'snapshot',
      'save',
      "/var/lib/etcd/x'; rm -rf / #.db",
    ])
    // The quoted line a shell would run: the hostile word stays one literal argument.
    expect(commandLine(argv)).toContain(`'/var/lib/etcd/x'\\''; rm -rf / #.db'`)
  })
})

describe('the laptop snapshot check', () => {
  it('a real etcd snapshot passes: trailer hash, both bolt meta pages', async () => {
    const check = await checkSnapshotFile(SNAPSHOT)
    expect(check.problems).toEqual([])
    expect(check.size).toBe(24_608)
  })

  const flipped = (offset: number) => {
    const dir = tempDir()
    const file = path.join(dir, 'flipped.db')
    const bytes = readFileSync(SNAPSHOT)
    bytes[offset] = bytes[offset]! ^ 0x01
    writeFileSync(file, bytes)
    return file
  }

  it('one flipped byte in the data fails the trailer hash', async () => {
    expect((await checkSnapshotFile(flipped(3 * 4096 + 100))).problems.join()).toMatch(/do not match the SHA-256 etcd appended/)
  })

  it('one flipped byte in a meta page fails its checksum; in the trailer, the hash', async () => {
    expect((await checkSnapshotFile(flipped(4096 + 16 + 40))).problems.join()).toMatch(/second meta page's checksum/)
    expect((await checkSnapshotFile(flipped(24_608 - 5))).problems.join()).toMatch(/SHA-256 etcd appended/)
  })

  it('a cut file fails', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'cut.db')
    writeFileSync(file, readFileSync(SNAPSHOT).subarray(0, 12_000))
    expect((await checkSnapshotFile(file)).problems.join()).toMatch(/size \(12000 bytes\)/)
  })
})

/** A folder with kp backups of the fixture snapshot, taken `hoursAgo`, plus things kp did not write. */
function folder(hoursAgo: number[]): string {
  const dir = tempDir()
  const sha256 = 'e9000c0d9335ba0d344603a3bd8303dc0eb8c11fb06e818659f107b1add54b13'
  for (const [i, h] of hoursAgo.entries()) {
    const at = new Date(Date.UTC(2026, 11, 6, 12) - h * 3_600_000)
    const name = backupName(at, `cp${(i % 3) + 1}`)
    copyFileSync(SNAPSHOT, path.join(dir, name))
    const sidecar: Sidecar = {
      cluster: 'homelab', createdAt: at.toISOString(), dbSize: 24_576, etcdVersion: '3.4.23', file: name, format: 1, kind: 'kp-etcd-backup', kpVersion: '0.1.0',
      kubernetesVersion: '1.31.4', node: `cp${(i % 3) + 1}`, revision: 2, runId: `run${i}`, sha256, size: 24_608, snapshotHash: 70_840_739, totalKeys: 5,
    }
    writeFileSync(path.join(dir, name.replace(/\.db$/, '.json')), JSON.stringify(sidecar))
  }

  // Not kp's: no sidecar; a sidecar of someone else's format; another name pattern.
  copyFileSync(SNAPSHOT, path.join(dir, '20200101T000000Z-cp1.db'))
  copyFileSync(SNAPSHOT, path.join(dir, '20200102T000000Z-cp1.db'))
  writeFileSync(path.join(dir, '20200102T000000Z-cp1.json'), JSON.stringify({file: '20200102T000000Z-cp1.db', kind: 'other'}))
  copyFileSync(SNAPSHOT, path.join(dir, 'manual.db'))
  return dir
}

describe('listing and retention', () => {
  it('the fixture SHA-256 is what the folder helper writes', async () => {
    expect((await checkSnapshotFile(SNAPSHOT)).sha256).toBe('e9000c0d9335ba0d344603a3bd8303dc0eb8c11fb06e818659f107b1add54b13')
  })

  it('lists only the .db files with a sidecar kp wrote, newest first', () => {
    const dir = folder([30, 1, 5])
    expect(listBackups(dir).map((e) => path.basename(e.file))).toEqual(['20261206T110000Z-cp2.db', '20261206T070000Z-cp3.db', '20261205T060000Z-cp1.db'])
    expect(listBackups(path.join(dir, 'missing'))).toEqual([])
  })

  it('keeps the newest N, counts the file just written among them, never touches files kp did not write', () => {
    const dir = folder([1, 2, 3, 4, 5])
    const entries = listBackups(dir)
    expect(retentionVictims(entries, 3).map((e) => e.sidecar.runId)).toEqual(['run3', 'run4'])
    // The file just written is kept even when it is not the newest (a node clock behind).
    const old = path.basename(entries.at(-1)!.file)
    expect(retentionVictims(entries, 2, old).map((e) => e.sidecar.runId)).toEqual(['run1', 'run2', 'run3'])
    expect(retentionVictims(entries, 1, old).map((e) => e.sidecar.runId)).toEqual(['run0', 'run1', 'run2', 'run3'])
    for (const victim of retentionVictims(entries, 2)) deleteBackup(victim)
    expect(listBackups(dir)).toHaveLength(2)
    for (const notKps of ['20200101T000000Z-cp1.db', '20200102T000000Z-cp1.db', '20200102T000000Z-cp1.json', 'manual.db']) expect(() => readFileSync(path.join(dir, notKps))).not.toThrow()
  })

  it('leftovers: .part copies, sidecar temp files, kp sidecars whose .db is gone; nothing else', () => {
    const dir = folder([1])
    mkdirSync(dir, {recursive: true})
    writeFileSync(path.join(dir, '.20261206T120000Z-cp1.db.part'), 'half')
    writeFileSync(path.join(dir, '.20261206T120000Z-cp1.json.0123456789abcdef.tmp'), '{')
    writeFileSync(path.join(dir, '20261206T130000Z-cp2.json'), JSON.stringify({kind: 'kp-etcd-backup'}))
    writeFileSync(path.join(dir, '.hidden-of-someone'), 'x')
    expect(leftovers(dir).map((f) => path.basename(f)).sort()).toEqual(['.20261206T120000Z-cp1.db.part', '.20261206T120000Z-cp1.json.0123456789abcdef.tmp', '20261206T130000Z-cp2.json'])
  })

  it('rows verify each backup; verifyFile names the file whose bytes changed', async () => {
    const dir = folder([1, 2])
    const rows = await backupRows(dir)
    expect(rows.map((r) => r.verified)).toEqual([true, true])
    const file = rows[1]!.file
    const bytes = readFileSync(file)
    bytes[9000] = bytes[9000]! ^ 0xff
    writeFileSync(file, bytes)
    expect((await backupRows(dir)).map((r) => r.verified)).toEqual([true, false])
    await expect(verifyFile(rows[0]!.file)).resolves.toMatchObject({ok: true})
    await expect(verifyFile(file)).rejects.toThrow(new RegExp(`${path.basename(file)} is not a sound etcd backup: its SHA-256 is`))
    // A sound snapshot kp did not write: said so, and not vouched for.
    await expect(verifyFile(SNAPSHOT)).rejects.toThrow(/snapshot\.db is not a backup kp wrote: it has no sidecar kp wrote .* Its bytes do pass etcd's own hash/)
  })
})

describe('receiving a file', () => {
  const bytes = readFileSync(SNAPSHOT)
  const expected = {sha256: 'e9000c0d9335ba0d344603a3bd8303dc0eb8c11fb06e818659f107b1add54b13', size: bytes.length}
  const feed = (data: Buffer, fail?: Error) => async (sink: (chunk: Buffer) => void) => {
    for (let i = 0; i < data.length; i += 4096) sink(data.subarray(i, i + 4096))
    if (fail) throw fail
  }

  it('renames into place, 0600, when size and SHA-256 match and the check passes', async () => {
    const dir = tempDir()
    await receiveFile(path.join(dir, 'a.db'), expected, feed(bytes), async (f) => (await checkSnapshotFile(f)).problems)
    expect(readdirSync(dir)).toEqual(['a.db'])
    expect(statSync(path.join(dir, 'a.db')).mode & 0o777).toBe(0o600)
  })

  it('a cut stream, a wrong hash, a sink that throws or a failed check leave nothing', async () => {
    const dir = tempDir()
    const target = path.join(dir, 'a.db')
    await expect(receiveFile(target, expected, feed(bytes.subarray(0, 9000), new Error('connection dropped')))).rejects.toThrow('connection dropped')
    await expect(receiveFile(target, expected, feed(bytes.subarray(0, 9000)))).rejects.toThrow(/the copy has 9000 bytes/)
    await expect(receiveFile(target, expected, async (sink) => sink(Buffer.from('x')), async () => [])).rejects.toThrow(/the copy has 1 bytes/)
    await expect(receiveFile(target, expected, feed(bytes), async () => ['no bolt magic'])).rejects.toThrow(/not a sound etcd snapshot: no bolt magic/)
    expect(readdirSync(dir)).toEqual([])
  })
})
