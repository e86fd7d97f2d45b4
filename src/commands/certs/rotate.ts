import {Flags} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import {launch} from '../../lib/engine/launch.js'
import type {Plan} from '../../lib/engine/plan.js'
import {describeRun} from '../../lib/engine/report.js'
import type {RunResult} from '../../lib/engine/runner.js'
import {builtIn as workflows} from '../../lib/workflows/index.js'

export default class CertsRotate extends BaseCommand<typeof CertsRotate> {
  static description = `Renew kubeadm's certificates on the control planes, one control plane at a time (all of them, or those named).
First an etcd backup (as kp backup etcd) and, per control plane, a Proxmox snapshot of its VM (maintenance.snapshotBeforeMaintenance). Per control plane: check /readyz and every etcd member; kubeadm certs renew all; restart etcd, kube-apiserver, kube-controller-manager and kube-scheduler one by one by moving each manifest out and back; verify the new expiry on disk and as served by its API server (:6443) and etcd member (:2379) before the next one. Last, refresh the admin kubeconfig (the old one kept as .bak) and the context kp kubeconfig --merge made. Works over SSH: an expired admin kubeconfig is what it fixes. The certificate authorities are not rotated. Runbook: runbooks/certs-rotate.md.`

  static examples = [
    '<%= config.bin %> <%= command.id %> --dry-run',
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> cp2 --no-snapshot',
  ]

  static flags = {
    backup: Flags.boolean({allowNo: true, description: 'Take an etcd backup first (--no-backup: none) [default: true].'}),
    ca: Flags.boolean({description: 'Rotate the certificate authorities too: refused, kp does not (see the runbook).'}),
    snapshot: Flags.boolean({allowNo: true, description: 'Take a Proxmox snapshot of each VM first (--no-snapshot: none) [default: maintenance.snapshotBeforeMaintenance].'}),
  }

  static strict = false
  static usage = '<%= command.id %> [CONTROL-PLANE…] [flags]'

  async run(): Promise<Plan | RunResult> {
    const {argv, flags} = await this.parse(CertsRotate)
    const result = await launch(this.launchContext(), {
      params: {backup: flags.backup, ca: flags.ca, nodes: argv, snapshot: flags.snapshot},
      workflow: workflows['certs-rotate'],
    })
    if (!('dryRun' in result)) this.log(describeRun(result))
    return result
  }
}
