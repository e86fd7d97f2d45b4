import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import {launch} from '../../lib/engine/launch.js'
import type {Plan} from '../../lib/engine/plan.js'
import {describeRun} from '../../lib/engine/report.js'
import type {RunResult} from '../../lib/engine/runner.js'
import {builtIn as workflows} from '../../lib/workflows/index.js'

export default class VmSeed extends BaseCommand<typeof VmSeed> {
  static args = {nodes: Args.string({description: 'Nodes to seed (default: every node in kp.yaml).'})}
  static description = `Create and configure the Proxmox VMs of the nodes in kp.yaml, start them and pin their SSH host keys.
Converges: a VM that matches kp.yaml is left alone, a changed size or network is applied, nothing is ever deleted. A VMID used by a VM that kp does not manage for this cluster is refused before any change. Runbook: runbooks/vm-seed.md.`

  static examples = [
    '<%= config.bin %> <%= command.id %> --dry-run',
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> w1 w2',
    '<%= config.bin %> <%= command.id %> w1 --reboot',
  ]

  static flags = {
    reboot: Flags.boolean({description: 'Reboot running VMs whose new CPU, memory or cloud-init settings need a boot (asks first).'}),
  }

  static strict = false

  async run(): Promise<Plan | RunResult> {
    const {argv} = await this.parse(VmSeed)
    const result = await launch(this.launchContext(), {params: {nodes: argv, reboot: this.flags.reboot}, workflow: workflows['vm-seed']})
    if (!('dryRun' in result)) this.log(result.changed === 0 ? `${describeRun(result)}\nNothing to change: the VMs match kp.yaml.` : describeRun(result))
    return result
  }
}
