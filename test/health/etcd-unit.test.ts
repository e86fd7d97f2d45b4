/**
 * The etcd check's verdicts, as pure functions over real etcdctl 3.4.23 output
 * (test/fixtures/etcd/three-*: a 3-member cluster on loopback, then the same with two members
 * stopped; *-nospace: a member past a tiny --quota-backend-bytes).
 */
import {readFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {type EndpointStatus, parseAlarms, parseEndpointStatus, parseMemberList} from '../../src/lib/etcd/parse.js'
import {DEFAULT_QUOTA_BYTES, type DeepView, etcdPods, formatBytes, judgeApi, judgeDeep, type MemberProbe, quotaFromManifest} from '../../src/lib/health/checks/etcd.js'
import type {Finding} from '../../src/lib/health/status.js'
import type {KubePod} from '../../src/lib/kube/types.js'
import {repoRoot} from '../helpers/cli.js'

const fixture = (name: string) => readFileSync(path.join(repoRoot, 'test', 'fixtures', 'etcd', name), 'utf8')
const members = parseMemberList(fixture('three-member-list.json'))
const QUOTA = {bytes: DEFAULT_QUOTA_BYTES, fromManifest: false}
const statusOf = (node: string, change: Partial<EndpointStatus> = {}): EndpointStatus => ({...parseEndpointStatus(fixture(`three-status-${node}.json`)), ...change})
const up = (node: string, change: Partial<EndpointStatus> = {}, quota = QUOTA): MemberProbe => ({node, quota, status: statusOf(node, change)})
const down = (node: string, error: string): MemberProbe => ({error, node, quota: QUOTA})
const view = (probes: MemberProbe[], more: Partial<DeepView> = {}): DeepView => ({alarms: [], members, probes, ...more})
const statusOfFindings = (findings: Finding[]) => (findings.some((f) => f.status === 'CRITICAL') ? 'CRITICAL' : findings.some((f) => f.status === 'WARNING') ? 'WARNING' : 'OK')
const texts = (findings: Finding[]) => findings.map((f) => `${f.status}: ${f.text}`)
const LEADER_ID = statusOf('cp1').memberId

describe('etcdctl output the etcd check reads', () => {
  it('endpoint status of a member without a leader: etcd leaves the leader out, kp reads it as 0', () => {
    const s = parseEndpointStatus(fixture('three-status-cp1-no-leader.json'))
    expect(s.leader).toBe('0')
    expect(s.errors).toEqual(['etcdserver: no leader'])
  })

  it('alarms, from alarm list and from endpoint status errors, with the member id in hex', () => {
    const id = BigInt('11719934994822390420').toString(16)
    expect(parseAlarms(fixture('alarm-list-nospace.txt'))).toEqual([{alarm: 'NOSPACE', memberId: id}])
    expect(parseEndpointStatus(fixture('endpoint-status-nospace.json')).errors.flatMap((e) => parseAlarms(e))).toEqual([{alarm: 'NOSPACE', memberId: id}])
    expect(parseAlarms('')).toEqual([])
  })

  it('the quota from a kubeadm manifest, etcd’s 2 GiB default without the flag', () => {
    const manifest = 'spec:\n  containers:\n  - command:\n    - etcd\n    - --quota-backend-bytes=8589934592\n    - --data-dir=/var/lib/etcd\n'
    expect(quotaFromManifest(manifest)).toEqual({bytes: 8 * 1024 ** 3, fromManifest: true})
    expect(quotaFromManifest('spec:\n  containers:\n  - command:\n    - etcd\n')).toEqual({bytes: 2 * 1024 ** 3, fromManifest: false})
    expect(quotaFromManifest(undefined)).toEqual(QUOTA)
    expect([formatBytes(20_480), formatBytes(2 * 1024 ** 3), formatBytes(1536 * 1024), formatBytes(512)]).toEqual(['20 KiB', '2 GiB', '1.5 MiB', '512 B'])
  })
})

describe('the etcd check without --deep: /readyz/etcd and the etcd pods', () => {
  const OK: Finding = {status: 'OK', text: '/readyz/etcd ok'}
  const FAILED: Finding = {status: 'CRITICAL', text: '/readyz/etcd failed: etcd'}
  const pod = (node: string, ready: boolean, why?: string) => ({name: `etcd-${node}`, node, ready, ...(why ? {why} : {})})

  it('reads the mirror pods: Ready, and why not', () => {
    const pods: KubePod[] = [
      {metadata: {name: 'etcd-cp1'}, spec: {containers: [], nodeName: 'cp1'}, status: {conditions: [{status: 'True', type: 'Ready'}], phase: 'Running'}},
      {
        metadata: {name: 'etcd-cp2'},
        spec: {containers: [], nodeName: 'cp2'},
        status: {conditions: [{status: 'False', type: 'Ready'}], containerStatuses: [{image: 'etcd', imageID: '', name: 'etcd', ready: false, restartCount: 1, state: {waiting: {reason: 'CrashLoopBackOff'}}}], phase: 'Running'},
      },
      {metadata: {name: 'etcd-cp3'}, spec: {containers: [], nodeName: 'cp3'}, status: {phase: 'Pending'}},
    ]
    expect(etcdPods(pods)).toEqual([pod('cp1', true), pod('cp2', false, 'CrashLoopBackOff'), pod('cp3', false, 'Pending')])
  })

  it('every member ready: OK', () => {
    expect(texts(judgeApi(OK, [pod('cp1', true), pod('cp2', true), pod('cp3', true)]))).toEqual(['OK: /readyz/etcd ok', 'OK: 3 of 3 etcd members ready'])
  })

  it('one of three not ready: WARNING naming it', () => {
    const findings = judgeApi(OK, [pod('cp1', false, 'CrashLoopBackOff'), pod('cp2', true), pod('cp3', true)])
    expect(statusOfFindings(findings)).toBe('WARNING')
    expect(findings[1]!.text).toBe('2 of 3 etcd members ready; etcd-cp1 not ready (CrashLoopBackOff)')
  })

  it('two of three not ready while /readyz/etcd still answers ok: WARNING, quorum at risk', () => {
    const findings = judgeApi(OK, [pod('cp1', false), pod('cp2', false), pod('cp3', true)])
    expect(statusOfFindings(findings)).toBe('WARNING')
    expect(findings[1]!.text).toBe('1 of 3 etcd members ready: quorum at risk; etcd-cp1 not ready, etcd-cp2 not ready')
  })

  it('two of three not ready and /readyz/etcd failing: CRITICAL, quorum lost', () => {
    const findings = judgeApi(FAILED, [pod('cp1', false), pod('cp2', false), pod('cp3', true)])
    expect(texts(findings)).toEqual(['CRITICAL: /readyz/etcd failed: etcd', 'CRITICAL: 1 of 3 etcd members ready: quorum lost; etcd-cp1 not ready, etcd-cp2 not ready'])
  })

  it('no etcd pods (external etcd): /readyz/etcd alone', () => {
    expect(judgeApi(OK, [])).toEqual([OK])
    expect(judgeApi(FAILED, undefined)).toEqual([FAILED])
  })
})

describe('the etcd check with --deep: etcdctl on every control plane', () => {
  it('three healthy members: OK, one line per member, the metric families', () => {
    const judged = judgeDeep(view([up('cp1'), up('cp2'), up('cp3')]))
    expect(judged.findings).toEqual([])
    expect(judged.summary).toBe('3 of 3 members healthy, leader cp1, DB up to 24 KiB of 2 GiB (cp2)')
    // The member list's order (etcd sorts it by id).
    expect(judged.lines).toEqual([
      'cp2: healthy, db 24 KiB of 2 GiB (0%, 16 KiB in use), raft index 8, etcd 3.4.23',
      'cp1: healthy, leader, db 20 KiB of 2 GiB (0%, 16 KiB in use), raft index 8, etcd 3.4.23',
      'cp3: healthy, db 20 KiB of 2 GiB (0%), raft index 8, etcd 3.4.23',
    ])
    const sample = (name: string, member?: string) => judged.metrics.find((m) => m.name === name && (member === undefined || m.labels.member === member))?.value
    expect([sample('kp_etcd_members'), sample('kp_etcd_members_healthy')]).toEqual([3, 3])
    expect(['cp1', 'cp2', 'cp3'].map((m) => sample('kp_etcd_member_leader', m))).toEqual([1, 0, 0])
    expect(['cp1', 'cp2', 'cp3'].map((m) => sample('kp_etcd_member_healthy', m))).toEqual([1, 1, 1])
    expect([sample('kp_etcd_db_size_bytes', 'cp2'), sample('kp_etcd_db_quota_bytes', 'cp2'), sample('kp_etcd_raft_index', 'cp2')]).toEqual([24_576, DEFAULT_QUOTA_BYTES, 8])
    expect(judged.metrics.some((m) => m.name === 'kp_etcd_alarm')).toBe(false)
  })

  it('one member down: WARNING 2 of 3, naming it and why, and that the API still calls its pod Ready', () => {
    const pods = [{name: 'etcd-cp1', node: 'cp1', ready: true}, {name: 'etcd-cp2', node: 'cp2', ready: true}, {name: 'etcd-cp3', node: 'cp3', ready: true}]
    const judged = judgeDeep(view([up('cp1'), down('cp2', 'no running etcd container'), up('cp3')], {pods}))
    expect(texts(judged.findings)).toEqual([
      'WARNING: 2 of 3 members healthy',
      'WARNING: cp2: no running etcd container; the API reports its pod etcd-cp2 Ready, yet etcdctl on cp2 cannot use it',
    ])
    expect(judged.lines[0]).toBe('cp2: unhealthy (no running etcd container)')
    expect(judged.metrics.find((m) => m.name === 'kp_etcd_member_healthy' && m.labels.member === 'cp2')?.value).toBe(0)
    expect(judged.metrics.find((m) => m.name === 'kp_etcd_members_healthy')?.value).toBe(2)
  })

  it('two members down: CRITICAL, quorum lost, each named with why; the one left has no leader', () => {
    const survivor: MemberProbe = {node: 'cp1', quota: QUOTA, status: parseEndpointStatus(fixture('three-status-cp1-no-leader.json'))}
    const judged = judgeDeep(view([survivor, down('cp2', 'no running etcd container'), down('cp3', 'etcdctl: context deadline exceeded')]))
    expect(statusOfFindings(judged.findings)).toBe('CRITICAL')
    expect(texts(judged.findings)).toEqual([
      'CRITICAL: quorum lost: 0 of 3 members healthy',
      'CRITICAL: cp2: no running etcd container',
      'CRITICAL: cp1: etcdserver: no leader',
      'CRITICAL: cp3: etcdctl: context deadline exceeded',
      'CRITICAL: no leader: no member that answered knows one',
    ])
  })

  it('a member kp cannot log in to, and a member not on any control plane of kp.yaml, are named', () => {
    const judged = judgeDeep(view([up('cp1'), down('cp2', 'kp cannot log in over SSH: connect ECONNREFUSED 10.0.0.12:22')]))
    expect(texts(judged.findings)).toEqual([
      'CRITICAL: quorum lost: 1 of 3 members healthy',
      'CRITICAL: cp2: kp cannot log in over SSH: connect ECONNREFUSED 10.0.0.12:22',
      'CRITICAL: cp3: not on a control plane of kp.yaml, so not checked',
    ])
  })

  it('an alarm: CRITICAL naming it and its member (NOSPACE also past its quota)', () => {
    const nospace: MemberProbe = {node: 'cp1', quota: quotaFromManifest('    - --quota-backend-bytes=200000\n'), status: parseEndpointStatus(fixture('endpoint-status-nospace.json'))}
    const judged = judgeDeep({alarms: parseAlarms(fixture('alarm-list-nospace.txt')), probes: [nospace]})
    expect(texts(judged.findings)).toEqual([
      'CRITICAL: alarm NOSPACE on cp1: the DB reached its quota, writes are refused until it is compacted, defragmented and the alarm disarmed',
      'CRITICAL: cp1 DB 260 KiB is 133% of its 195.3 KiB quota (160 KiB in use: a defragment would free the rest)',
    ])
    expect(judged.summary).toMatch(/^1 of 1 members healthy, leader cp1/)
    expect(judged.metrics.filter((m) => m.name === 'kp_etcd_alarm')).toEqual([expect.objectContaining({labels: {alarm: 'NOSPACE', member: 'cp1'}, value: 1})])
    expect(judged.metrics.find((m) => m.name === 'kp_etcd_db_quota_bytes')?.value).toBe(200_000)
  })

  it('the DB against the quota: 85% WARNING, 96% CRITICAL, saying what a defragment would free', () => {
    const quota = {bytes: 1_000_000, fromManifest: true}
    const at = (dbSize: number, dbSizeInUse = dbSize) => judgeDeep(view([up('cp1', {dbSize, dbSizeInUse}, quota), up('cp2'), up('cp3')])).findings
    expect(texts(at(850_000))).toEqual(['WARNING: cp1 DB 830.1 KiB is 85% of its 976.6 KiB quota'])
    expect(texts(at(960_000, 100_000))).toEqual(['CRITICAL: cp1 DB 937.5 KiB is 96% of its 976.6 KiB quota (97.7 KiB in use: a defragment would free the rest)'])
    expect(at(790_000)).toEqual([])
  })

  it('a member trailing the others by more than 1000 raft entries: WARNING naming it', () => {
    const judged = judgeDeep(view([up('cp1', {raftIndex: 5000}), up('cp2', {raftIndex: 4990}), up('cp3', {raftIndex: 3900})]))
    expect(texts(judged.findings)).toEqual(['WARNING: cp3 lags: raft index 3900, 1100 behind the furthest member'])
    expect(texts(judgeDeep(view([up('cp1', {raftIndex: 5000}), up('cp2'), up('cp3', {raftIndex: 4000})])).findings)).toEqual([
      'WARNING: cp2 lags: raft index 8, 4992 behind the furthest member',
    ])
  })

  it('no leader anywhere, or members that disagree on it: CRITICAL', () => {
    const none = judgeDeep(view([up('cp1', {leader: '0'}), up('cp2', {leader: '0'}), up('cp3', {leader: '0'})]))
    expect(texts(none.findings)).toContain('CRITICAL: no leader: no member that answered knows one')
    expect(none.metrics.filter((m) => m.name === 'kp_etcd_member_leader').map((m) => m.value)).toEqual([0, 0, 0])
    const cp2 = statusOf('cp2').memberId
    const split = judgeDeep(view([up('cp1'), up('cp2'), up('cp3', {leader: cp2})]))
    expect(texts(split.findings)).toEqual(['CRITICAL: members disagree on the leader: cp2 says cp1, cp1 says cp1, cp3 says cp2'])
    expect(split.summary).toBe('3 of 3 members healthy, DB up to 24 KiB of 2 GiB (cp2)')
    expect(LEADER_ID).toBe(statusOf('cp1').leader)
  })

  it('without a member list (no control plane answered it) the control planes are the members', () => {
    const judged = judgeDeep({alarms: [], probes: [down('cp1', 'no running etcd container'), down('cp2', 'no running etcd container'), down('cp3', 'no running etcd container')]})
    expect(texts(judged.findings)[0]).toBe('CRITICAL: quorum lost: 0 of 3 members healthy')
    expect(judged.metrics.find((m) => m.name === 'kp_etcd_members')?.value).toBe(3)
  })
})
