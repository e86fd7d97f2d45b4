/**
 * Bootstrap's last step: pods still starting right after the nodes turned Ready (CoreDNS not yet
 * available) are waited for; any other CRITICAL fails at once; a certificate near its expiry only
 * warns. kp health itself is replaced by a script of reports, so what is tested is the step's rule.
 */
import {beforeEach, describe, expect, it, vi} from 'vitest'

type Check = {name: string; reason?: string; status: 'CRITICAL' | 'OK' | 'UNKNOWN' | 'WARNING'}
const reports: Check[][] = []
const calls = vi.fn()
vi.mock('../../src/lib/health/run.js', () => ({
  runHealth: async () => {
    calls()
    return {checks: reports.length > 1 ? reports.shift()! : reports[0]!}
  },
}))
const warned: string[] = []
vi.mock('../../src/lib/warnings.js', () => ({warn: (line: string) => warned.push(line)}))

const {checkHealth} = await import('../../src/lib/workflows/bootstrap/health.js')

const ctx = () => {
  const lines: string[] = []
  return {ctx: {config: {path: 'kp.yaml'}, log: (l: string) => lines.push(l), signal: new AbortController().signal, stateDir: '/nonexistent'} as never, lines}
}

const ok: Check[] = [{name: 'api', status: 'OK'}, {name: 'workloads', status: 'OK'}]

describe("bootstrap's health step", () => {
  beforeEach(() => {
    reports.length = 0
    calls.mockClear()
    warned.length = 0
  })

  it('waits for a kube-system Deployment still starting, then passes', async () => {
    reports.push([{name: 'api', status: 'OK'}, {name: 'workloads', reason: 'deployment kube-system/coredns 0/2 available', status: 'CRITICAL'}], ok)
    const {ctx: c, lines} = ctx()
    await checkHealth.run(c)
    expect(calls).toHaveBeenCalledTimes(2)
    expect(lines[0]).toBe('waiting for pods still starting: workloads (deployment kube-system/coredns 0/2 available)')
  }, 20_000)

  it('fails at once on any other CRITICAL, naming it', async () => {
    reports.push([{name: 'etcd', reason: '1 of 3 etcd members ready', status: 'CRITICAL'}, {name: 'workloads', reason: 'coredns 0/2', status: 'CRITICAL'}])
    await expect(checkHealth.run(ctx().ctx)).rejects.toThrow('the cluster is up but not healthy: etcd CRITICAL (1 of 3 etcd members ready); workloads CRITICAL (coredns 0/2)')
    expect(calls).toHaveBeenCalledTimes(1)
  })

  it('passes a certificate near its expiry with a warning naming kp certs rotate', async () => {
    reports.push([{name: 'apiserver-certificate', reason: 'expires 2026-12-11 (in 4 days)', status: 'CRITICAL'}, ...ok])
    await checkHealth.run(ctx().ctx)
    expect(warned).toEqual([expect.stringContaining('apiserver-certificate: expires 2026-12-11 (in 4 days); the cluster is up, renew its certificates with kp certs rotate')])
  })
})
