import {Flags} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import type {CertsReport} from '../../lib/certs/check.js'
import {onInterrupt} from '../../lib/engine/signals.js'

export default class CertsCheck extends BaseCommand<typeof CertsCheck> {
  static description = `Read kubeadm's certificates on every node over SSH (one connection each, never their keys) and what the API servers and etcd members serve now.
On each control plane: the kubeadm set (admin.conf … super-admin.conf) and the CAs; on every node the kubelet's client certificate and whether the kubelet renews it. For each: expiry against health.certificateWarnDays/CriticalDays, the chain to its CA on the same node, the API server's SANs (the control-plane endpoint and the node's address), and the certificate served on <node>:6443 and :2379 against the file. A CA with less than 365 days left is a WARNING (kp does not rotate CAs).
Read-only: no lock, never prompts (unknown host keys are refused). Exit codes as kp health: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (a node or a server kp could not read, or an unusable kp.yaml); the worst wins (CRITICAL > UNKNOWN > WARNING); 2 also for a usage error.`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --node cp1 --node w1',
    '<%= config.bin %> <%= command.id %> --json',
  ]

  static flags = {
    node: Flags.string({description: 'Check only this node (repeat the flag for several); every node of kp.yaml by default.', multiple: true}),
  }

  async run(): Promise<CertsReport> {
    const [{checkCertificates}, {formatCertsReport}, {stdoutColour}] = await Promise.all([
      import('../../lib/certs/run-check.js'),
      import('../../lib/certs/format.js'),
      import('../../lib/colour.js'),
    ])
    const controller = new AbortController()
    const stop = onInterrupt({first: () => controller.abort(), second: () => process.exit(130)})
    this.onClose(async () => stop())
    const report = await checkCertificates({
      configPath: this.configPath,
      ...(this.flags.verbose ? {log: (line: string) => process.stderr.write(`${line}\n`)} : {}),
      nodes: this.flags.node ?? [],
      onClose: (fn) => this.onClose(fn),
      signal: controller.signal,
      stateDir: this.stateDir,
    })
    if (!this.jsonEnabled()) process.stdout.write(formatCertsReport(report, stdoutColour()))
    process.exitCode = report.exitCode
    return report
  }
}
