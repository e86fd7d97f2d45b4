/**
 * Check the cluster's health: the checks of `kp health`. CRITICAL fails the step (the cluster is
 * built but not well, and the report says where); WARNING is reported and passes.
 * Pods still starting are waited for, up to SETTLE_MS: the nodes were just seen Ready, and CoreDNS
 * (or another kube-system workload) turns available seconds later — a check at that instant would
 * fail a cluster that is fine. Any other CRITICAL fails at once.
 * A certificate near its expiry is the one CRITICAL that passes with a warning: the cluster works,
 * its lifetime was chosen before kp ran (kubeadm's year, or `kp lab up --cert-days`), and the fix
 * is another workflow, `kp certs rotate`, which no `kp resume` of this run could stand in for.
 */
import {setTimeout as sleep} from 'node:timers/promises'

import {ExitCode, KpError} from '../../errors.js'
import type {Step} from '../../engine/types.js'
import {warn} from '../../warnings.js'
import type {BootstrapFacts, BootstrapParams} from './facts.js'

const CERTIFICATE_CHECKS = new Set(['apiserver-certificate'])
/** Checks that only say pods are still starting. */
const SETTLING_CHECKS = new Set(['kube-system', 'workloads'])
const SETTLE_MS = 3 * 60_000

export const checkHealth: Step<BootstrapFacts, BootstrapParams> = {
  id: 'health',
  title: "Check the cluster's health",
  plan: () => ['run the health checks (read-only), waiting up to 3 minutes for pods still starting'],
  async run(ctx) {
    const {runHealth} = await import('../../health/run.js')
    const deadline = Date.now() + SETTLE_MS
    for (;;) {
      const report = await runHealth({checks: [], configPath: ctx.config.path, stateDir: ctx.stateDir, timeoutMs: 30_000, warn})
      const bad = report.checks.filter((c) => (c.status === 'CRITICAL' && !CERTIFICATE_CHECKS.has(c.name)) || c.status === 'UNKNOWN')
      const settling = bad.length > 0 && bad.every((c) => c.status === 'CRITICAL' && SETTLING_CHECKS.has(c.name))
      if (settling && Date.now() < deadline) {
        ctx.log(`waiting for pods still starting: ${bad.map((c) => `${c.name} (${c.reason})`).join('; ')}`)
        await sleep(5000)
        ctx.signal.throwIfAborted()
        continue
      }

      for (const check of report.checks) ctx.log(`${check.status.padEnd(8)} ${check.name}${check.reason ? `: ${check.reason}` : ''}`)
      for (const c of report.checks.filter((x) => x.status === 'CRITICAL' && CERTIFICATE_CHECKS.has(x.name))) {
        warn(`${c.name}: ${c.reason}; the cluster is up, renew its certificates with kp certs rotate (runbooks/certs-rotate.md)`)
      }

      if (bad.length > 0) {
        throw new KpError('kubernetes', ExitCode.stepFailed, `the cluster is up but not healthy: ${bad.map((c) => `${c.name} ${c.status}${c.reason ? ` (${c.reason})` : ''}`).join('; ')}`, {
          hint: 'kp health shows the details; fix what it names, then kp resume',
        })
      }

      return
    }
  },
}
