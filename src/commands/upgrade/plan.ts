import {Flags} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import {onInterrupt} from '../../lib/engine/signals.js'
import type {PlanReport} from '../../lib/upgrade/run-plan.js'

export default class UpgradePlan extends BaseCommand<typeof UpgradePlan> {
  static description = `Read-only: what a Kubernetes upgrade would start from and whether it may start.
The versions now (per node: API server, controller manager, scheduler, etcd, kubelet, kubeadm), the versions of kubeadm, kubelet and kubectl in the package repository of the current and the next minor, what kp upgrade cluster --to X would do node by node, and every blocker with its fix: the guards of kp upgrade cluster.
Without --to the target is the newest patch of the next minor (or of the current minor when there is no next).
No lock, never prompts (unknown host keys are refused). Exit codes: 0 nothing blocks, 4 blockers present (kp upgrade cluster would refuse), 3 the cluster could not be assessed (its API did not answer), 2 a usage error or an unusable kp.yaml, 130 interrupted.`

  static examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --to 1.31.4', '<%= config.bin %> <%= command.id %> --json']

  static flags = {
    to: Flags.string({description: 'The version to upgrade to (X.Y.Z); default: the newest patch of the next minor.'}),
  }

  async run(): Promise<PlanReport> {
    const [{planUpgrade}, {formatPlan}, {stdoutColour}] = await Promise.all([import('../../lib/upgrade/run-plan.js'), import('../../lib/upgrade/format.js'), import('../../lib/colour.js')])
    const controller = new AbortController()
    const stop = onInterrupt({first: () => controller.abort(), second: () => process.exit(130)})
    this.onClose(async () => stop())
    const report = await planUpgrade({
      configPath: this.configPath,
      ...(this.flags.verbose ? {log: (line: string) => process.stderr.write(`${line}\n`)} : {}),
      onClose: (fn) => this.onClose(fn),
      signal: controller.signal,
      stateDir: this.stateDir,
      ...(this.flags.to ? {to: this.flags.to} : {}),
    })
    if (!this.jsonEnabled()) process.stdout.write(formatPlan(report, stdoutColour(), Boolean(this.flags.to)))
    process.exitCode = report.exitCode
    return report
  }
}
