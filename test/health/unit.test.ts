/** The pure parts of kp health: version skew, severity, thresholds, parsing, formats. */
import {Chalk} from 'chalk'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import {describe, expect, it} from 'vitest'

import {failedSubChecks, healthFinding} from '../../src/lib/health/checks/api.js'
import {expiryStatus} from '../../src/lib/health/checks/apiserver-certificate.js'
import {isPending} from '../../src/lib/health/checks/csrs.js'
import {podFindings} from '../../src/lib/health/checks/kube-system.js'
import {nodeFindings} from '../../src/lib/health/checks/nodes.js'
import {daemonSetFinding, deploymentFinding} from '../../src/lib/health/checks/workloads.js'
import {formatPrometheus} from '../../src/lib/health/format/prometheus.js'
import {formatText} from '../../src/lib/health/format/text.js'
import {configSkew, kubeletSkew, parseVersion} from '../../src/lib/health/skew.js'
import {fromFindings, worst} from '../../src/lib/health/status.js'
import {parseTimeout} from '../../src/lib/health/timeout.js'
import type {HealthReport} from '../../src/lib/health/types.js'
import {CHECK_NAMES} from '../../src/lib/health/names.js'
import {CHECKS} from '../../src/lib/health/checks/index.js'

const v = (s: string) => parseVersion(s)!

describe('kubelet version skew', () => {
  it.each([
    ['v1.31.8', 'v1.31.8', 'OK'],
    ['v1.31.2', 'v1.31.8', 'OK'],
    ['v1.31.9', 'v1.31.8', 'OK'],
    ['v1.30.5', 'v1.31.8', 'WARNING'],
    ['v1.28.0', 'v1.31.8', 'WARNING'],
    ['v1.27.9', 'v1.31.8', 'CRITICAL'],
    ['v1.32.0', 'v1.31.8', 'CRITICAL'],
    ['v2.0.0', 'v1.31.8', 'CRITICAL'],
  ])('kubelet %s, API server %s: %s', (kubelet, apiserver, status) => {
    expect(kubeletSkew(v(kubelet), v(apiserver)).status).toBe(status)
  })

  it('says how far behind and what is supported', () => {
    expect(kubeletSkew(v('v1.27.9'), v('v1.31.8')).text).toBe('kubelet v1.27.9 is 4 minors behind the API server v1.31.8 (at most 3 are supported)')
    expect(kubeletSkew(v('v1.30.5'), v('v1.31.8')).text).toContain('1 minor behind')
  })

  it('compares the API server with kp.yaml, patch included', () => {
    expect(configSkew(v('v1.31.8'), '1.31.8').status).toBe('OK')
    expect(configSkew(v('v1.31.8'), '1.31.9')).toEqual({status: 'WARNING', text: 'the API server runs v1.31.8 but kp.yaml says 1.31.9 (cluster.kubernetesVersion)'})
  })

  it('parses the versions clusters report', () => {
    expect(parseVersion('v1.31.8+k3s1')).toEqual({major: 1, minor: 31, patch: 8})
    expect(parseVersion('1.31.8')).toEqual({major: 1, minor: 31, patch: 8})
    expect(parseVersion('latest')).toBeUndefined()
  })
})

describe('statuses', () => {
  it('orders CRITICAL > UNKNOWN > WARNING > OK', () => {
    expect(worst([])).toBe('OK')
    expect(worst(['OK', 'WARNING'])).toBe('WARNING')
    expect(worst(['WARNING', 'UNKNOWN'])).toBe('UNKNOWN')
    expect(worst(['UNKNOWN', 'CRITICAL', 'WARNING'])).toBe('CRITICAL')
  })

  it('names the worst findings first in one line, and the rest as a count', () => {
    const findings = [...Array.from({length: 6}, (_, i) => ({status: 'WARNING' as const, text: `w${i} cordoned`})), {status: 'CRITICAL' as const, text: 'cp1 NotReady'}]
    const outcome = fromFindings(findings, 'fine')
    expect(outcome.status).toBe('CRITICAL')
    expect(outcome.reason).toBe('cp1 NotReady; w0 cordoned; w1 cordoned; w2 cordoned; w3 cordoned; and 2 more')
    expect(outcome.details).toHaveLength(7)
    expect(fromFindings([{status: 'OK', text: 'x'}], 'fine')).toMatchObject({reason: 'fine', status: 'OK'})
  })

  it('has one check per name, in the same order', () => {
    expect(CHECKS.map((c) => c.name)).toEqual([...CHECK_NAMES])
  })
})

describe('findings', () => {
  it('certificate expiry against the thresholds', () => {
    const now = new Date('2025-01-01T00:00:00Z')
    const at = (days: number) => new Date(now.getTime() + days * 86_400_000)
    expect(expiryStatus(at(31), now, 30, 7).status).toBe('OK')
    expect(expiryStatus(at(30), now, 30, 7).status).toBe('WARNING')
    expect(expiryStatus(at(7), now, 30, 7).status).toBe('CRITICAL')
    expect(expiryStatus(at(-1), now, 30, 7)).toEqual({reason: 'expired on 2024-12-31', status: 'CRITICAL'})
    expect(expiryStatus(at(1.5), now, 30, 7).reason).toBe('expires 2025-01-02 (in 1 day), within health.certificateCriticalDays (7)')
  })

  it('the failing sub-checks of a healthz answer', () => {
    const body = '[+]ping ok\n[-]etcd failed: reason withheld\n[+]log ok\n[-]poststarthook/rbac/bootstrap-roles failed: not finished\nreadyz check failed\n'
    expect(failedSubChecks(body)).toEqual(['etcd', 'poststarthook/rbac/bootstrap-roles'])
    expect(healthFinding('readyz', {body, ok: false, status: 500})).toEqual({status: 'CRITICAL', text: 'readyz failed: etcd, poststarthook/rbac/bootstrap-roles'})
    expect(healthFinding('readyz', {body: 'Forbidden', ok: false, status: 403}).status).toBe('UNKNOWN')
  })

  it('kube-system pods: not running, crash loops, unready, restarts', () => {
    const pod = (status: object) => ({metadata: {name: 'p'}, status})
    expect(podFindings(pod({conditions: [{status: 'True', type: 'Ready'}], containerStatuses: [{restartCount: 1}], phase: 'Running'}), 5)).toEqual([])
    expect(podFindings(pod({phase: 'Pending'}), 5)).toEqual([{status: 'CRITICAL', text: 'p Pending'}])
    expect(podFindings(pod({phase: 'Succeeded'}), 5)).toEqual([])
    expect(podFindings(pod({containerStatuses: [{restartCount: 9, state: {waiting: {reason: 'ImagePullBackOff'}}}], phase: 'Pending'}), 5)).toEqual([
      {status: 'CRITICAL', text: 'p ImagePullBackOff'},
      {status: 'WARNING', text: 'p restarted 9 times'},
    ])
    expect(podFindings(pod({conditions: [{status: 'False', type: 'Ready'}], phase: 'Running'}), 5)).toEqual([{status: 'WARNING', text: 'p not ready'}])
  })

  it('nodes: the worst of readiness, pressure, cordon and skew', () => {
    const node = {
      metadata: {name: 'w1'},
      spec: {unschedulable: true},
      status: {conditions: [{status: 'True', type: 'MemoryPressure'}, {reason: 'KubeletNotReady', status: 'False', type: 'Ready'}], nodeInfo: {kubeletVersion: 'v1.30.1'} as never},
    }
    expect(nodeFindings(node, v('v1.31.8'))).toEqual([
      {status: 'CRITICAL', text: 'w1 NotReady (KubeletNotReady)'},
      {status: 'WARNING', text: 'w1 MemoryPressure'},
      {status: 'WARNING', text: 'w1 cordoned'},
      {status: 'WARNING', text: 'w1 kubelet v1.30.1 is 1 minor behind the API server v1.31.8 (supported; the upgrade is unfinished)'},
    ])
  })

  it('workloads: some unavailable is a warning, none available critical, scaled to zero fine', () => {
    const d = (replicas: number, availableReplicas?: number) => ({metadata: {name: 'web', namespace: 'default'}, spec: {replicas} as never, status: {availableReplicas}})
    expect(deploymentFinding(d(3, 3))).toBeUndefined()
    expect(deploymentFinding(d(0))).toBeUndefined()
    expect(deploymentFinding(d(3, 1))).toEqual({status: 'WARNING', text: 'deployment default/web 1/3 available'})
    expect(deploymentFinding(d(3))?.status).toBe('CRITICAL')
    expect(daemonSetFinding({metadata: {name: 'ne', namespace: 'm'}, status: {currentNumberScheduled: 3, desiredNumberScheduled: 3, numberAvailable: 2, numberMisscheduled: 0, numberReady: 2}})).toEqual({status: 'WARNING', text: 'daemonset m/ne 2/3 available'})
  })

  it('CSRs: pending until approved, denied or failed', () => {
    const csr = (types: string[]) => ({spec: {request: '', signerName: 'x'}, status: {conditions: types.map((type) => ({status: 'True', type}))}})
    expect(isPending(csr([]))).toBe(true)
    expect(isPending(csr(['Approved']))).toBe(false)
    expect(isPending(csr(['Denied']))).toBe(false)
    expect(isPending(csr(['Failed']))).toBe(false)
  })
})

describe('formats', () => {
  const report: HealthReport = {
    checks: [
      {certificate: {name: 'apiserver', notAfter: '2026-01-01T00:00:00.000Z'}, details: [], durationMs: 12, name: 'apiserver-certificate', reason: 'expires 2026-01-01 (in 20 days)', status: 'WARNING'},
      {details: ['CRITICAL: w1 NotReady'], durationMs: 30, name: 'nodes', reason: 'w1 NotReady', status: 'CRITICAL'},
    ],
    cluster: 'odd "name"\\x',
    durationMs: 250,
    exitCode: 2,
    startedAt: '2025-12-12T10:00:00.000Z',
    status: 'CRITICAL',
    timeoutMs: 20_000,
    up: true,
  }

  it('Prometheus: label values escaped so the parser reads them back', () => {
    const families = parsePrometheusTextFormat(formatPrometheus(report))
    const status = families.find((f) => f.name === 'kp_health_check_status')!
    expect(status.metrics).toEqual([
      {labels: {check: 'apiserver-certificate', cluster: 'odd "name"\\x'}, value: '1'},
      {labels: {check: 'nodes', cluster: 'odd "name"\\x'}, value: '2'},
    ])
    expect(families.find((f) => f.name === 'kp_health_certificate_expiry_timestamp_seconds')?.metrics[0]?.value).toBe('1767225600')
    expect(families.find((f) => f.name === 'kp_health_last_run_timestamp_seconds')?.metrics[0]?.value).toBe('1765533600')
  })

  it('text: colour only when asked, aligned by the plain text; details when verbose', () => {
    expect(formatText(report)).toBe(
      [
        'kp health odd "name"\\x: CRITICAL (1 warning, 1 critical) in 0.25s',
        'apiserver-certificate  WARNING   expires 2026-01-01 (in 20 days)',
        'nodes                  CRITICAL  w1 NotReady',
        '',
      ].join('\n'),
    )
    expect(formatText(report, {colour: new Chalk({level: 1})})).toContain('\u001B[31mCRITICAL\u001B[39m  w1 NotReady')
    expect(formatText(report, {colour: new Chalk({level: 1})})).toContain('\u001B[33mWARNING\u001B[39m   expires')
    expect(formatText(report, {verbose: true})).toContain('nodes                  CRITICAL  w1 NotReady\n    CRITICAL: w1 NotReady\n')
  })

  it('--timeout takes durations and plain seconds', () => {
    expect(parseTimeout('20s')).toBe(20_000)
    expect(parseTimeout('1m30s')).toBe(90_000)
    expect(parseTimeout('45')).toBe(45_000)
    expect(() => parseTimeout('0s')).toThrow(/not a duration/)
    expect(() => parseTimeout('soon')).toThrow(/not a duration/)
  })
})
