import {Flags} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import {launch} from '../../lib/engine/launch.js'
import type {Plan} from '../../lib/engine/plan.js'
import {describeRun} from '../../lib/engine/report.js'
import type {RunResult} from '../../lib/engine/runner.js'
import {builtIn as workflows} from '../../lib/workflows/index.js'

export default class UpgradeCluster extends BaseCommand<typeof UpgradeCluster> {
  static description = `Upgrade Kubernetes to the next minor (or a newer patch) with kubeadm's procedure, node by node, resumable.
Refused (exit 4, nothing changed) while kp upgrade plan --to names a blocker. Then: an etcd backup (as kp backup etcd) and a Proxmox snapshot of every VM (maintenance.snapshotBeforeMaintenance); every node's Kubernetes apt repository switched to the target minor; one node at a time — the first control plane (kubeadm upgrade apply), the other control planes, then the workers (kubeadm upgrade node) — kubeadm to the target, the kubeadm upgrade, drain, kubelet and kubectl to the target, kubelet restarted and Ready at the target, uncordon and wait for the workloads; last cluster.kubernetesVersion in kp.yaml (comments kept) and the health checks. Runbook: runbooks/upgrade-cluster.md.`

  static examples = [
    '<%= config.bin %> <%= command.id %> --to 1.31.2 --dry-run',
    '<%= config.bin %> <%= command.id %> --to 1.31.2 --yes',
    '<%= config.bin %> <%= command.id %> --to 1.31.2 --no-snapshot --timeout 10m',
  ]

  static flags = {
    'delete-emptydir-data': Flags.boolean({description: 'The drains also evict pods with emptyDir volumes; their data is lost.'}),
    force: Flags.boolean({description: 'The drains also delete pods no controller re-creates.'}),
    'grace-period': Flags.integer({description: "Seconds each evicted pod gets to terminate [default: maintenance.gracePeriod, else the pod's own].", min: 0}),
    snapshot: Flags.boolean({allowNo: true, description: 'Take a Proxmox snapshot of each VM first (--no-snapshot: none) [default: maintenance.snapshotBeforeMaintenance].'}),
    timeout: Flags.string({description: 'How long each drain may take, e.g. 90s or 10m [default: maintenance.drainTimeout].'}),
    to: Flags.string({description: 'The version to upgrade to, X.Y.Z: the current minor or the next one (kp upgrade plan lists them).', required: true}),
  }

  async run(): Promise<Plan | RunResult> {
    const {flags} = await this.parse(UpgradeCluster)
    const result = await launch(this.launchContext(), {
      params: {
        deleteEmptydirData: flags['delete-emptydir-data'],
        force: flags.force,
        gracePeriod: flags['grace-period'],
        snapshot: flags.snapshot,
        timeout: flags.timeout,
        to: flags.to,
      },
      workflow: workflows['upgrade-cluster'],
    })
    if (!('dryRun' in result)) this.log(describeRun(result))
    return result
  }
}
