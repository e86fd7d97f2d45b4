/**
 * `--deep` only: kubeadm's certificates on disk on every control plane, the kubelet's on every
 * node, and what the API servers and etcd members serve, judged exactly as `kp certs check` judges
 * them (src/lib/certs/check.ts) over the run's one SSH connection per node.
 */
import {buildReport, readNode} from '../../certs/check.js'
import {fromFindings} from '../status.js'
import type {Check, Metric} from '../types.js'

export const certificatesCheck: Check = {
  deepOnly: true,
  description:
    "--deep: kubeadm's certificates and CAs on every control plane and the kubelet's on every node, read over SSH: expiry (health.certificateWarnDays/CriticalDays), chain, the API server's SANs, and the certificate served on :6443 and :2379 against the file (the table of kp certs check).",
  name: 'certificates',
  async run(ctx) {
    const {config} = ctx.loaded
    const readings = await Promise.all(config.nodes.map((node) => readNode(node, {session: () => ctx.ssh(node.name), signal: ctx.signal})))
    const report = buildReport(config, readings, ctx.now)
    const findings = [
      ...report.certificates.map((c) => ({status: c.status, text: c.problems.length > 0 ? `${c.node} ${c.name} ${c.problems.join('; ')}` : `${c.node} ${c.name} ok`})),
      ...report.nodes.filter((n) => n.error).map((n) => ({status: 'UNKNOWN' as const, text: `${n.name}: ${n.error}`})),
    ]
    const soonest = report.certificates.filter((c) => c.daysLeft !== null).sort((a, b) => a.daysLeft! - b.daysLeft!)[0]
    const okReason = `${report.certificates.length} certificates ok${soonest ? `, the first to expire: ${soonest.node} ${soonest.name} in ${soonest.daysLeft} days` : ''}`
    const metrics: Metric[] = report.certificates
      .filter((c) => c.notAfter)
      .map((c) => ({
        help: 'Seconds until the certificate on disk expires (negative once expired), per node and kubeadm name.',
        labels: {certificate: c.name, node: c.node},
        name: 'kp_certificate_expiry_seconds',
        value: Math.round((Date.parse(c.notAfter!) - ctx.now.getTime()) / 1000),
      }))
    return {...fromFindings(findings, okReason), metrics}
  },
}
