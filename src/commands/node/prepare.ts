import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import {launch} from '../../lib/engine/launch.js'
import type {Plan} from '../../lib/engine/plan.js'
import {describeRun} from '../../lib/engine/report.js'
import type {RunResult} from '../../lib/engine/runner.js'
import {builtIn as workflows} from '../../lib/workflows/index.js'

export default class NodePrepare extends BaseCommand<typeof NodePrepare> {
  static args = {nodes: Args.string({description: 'Nodes to prepare (default: every node in kp.yaml).'})}
  static description = `Prepare fresh VMs for kubeadm over SSH: hostname, swap off, kernel modules, sysctl, containerd, the Kubernetes apt repository, kubelet/kubeadm/kubectl/cri-tools pinned and held.
Every step checks before it acts: a second run changes nothing. Nodes are prepared in parallel. Runbook: runbooks/node-prepare.md.`

  static examples = ['<%= config.bin %> <%= command.id %> --dry-run', '<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> w3 --accept-new-host-keys']
  static flags = {
    'accept-new-host-keys': Flags.boolean({description: 'Pin SSH host keys kp has not seen (kp vm seed pins them through the guest agent; prefer that).'}),
  }

  static strict = false

  async run(): Promise<Plan | RunResult> {
    const {argv} = await this.parse(NodePrepare)
    const result = await launch(this.launchContext(), {acceptNewHostKeys: this.flags['accept-new-host-keys'], params: {nodes: argv}, workflow: workflows['node-prepare']})
    if (!('dryRun' in result)) this.log(result.changed === 0 ? `${describeRun(result)}\nNothing to change: the nodes are prepared.` : describeRun(result))
    return result
  }
}
