import {Args} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import {launch} from '../../lib/engine/launch.js'
import type {Plan} from '../../lib/engine/plan.js'
import {describeRun} from '../../lib/engine/report.js'
import type {RunResult} from '../../lib/engine/runner.js'
import {UsageError} from '../../lib/errors.js'
import {builtIn as workflows} from '../../lib/workflows/index.js'

export const SNAPSHOT_NAME = /^[A-Za-z][A-Za-z0-9_-]{1,39}$/

export default class VmSnapshot extends BaseCommand<typeof VmSnapshot> {
  static args = {
    name: Args.string({description: 'Snapshot name: a letter, then letters, digits, "-" or "_" (2–40).', required: true}),
    nodes: Args.string({description: 'Nodes (default: every node in kp.yaml).'}),
  }

  static description = `Take a Proxmox snapshot of the nodes' VMs (disks only), to undo a risky change with kp vm rollback.
Runbook: runbooks/vm-snapshot.md.`

  static examples = ['<%= config.bin %> <%= command.id %> before-upgrade', '<%= config.bin %> <%= command.id %> pre-patch w1 w2']
  static strict = false

  async run(): Promise<Plan | RunResult> {
    const {argv} = await this.parse(VmSnapshot)
    const [name, ...nodes] = argv as string[]
    if (!SNAPSHOT_NAME.test(name!)) throw new UsageError(`"${name}" is not a snapshot name Proxmox accepts`, {hint: 'use a letter, then letters, digits, "-" or "_" (2–40 characters), like before-upgrade'})
    const result = await launch(this.launchContext(), {params: {nodes, snapshot: name}, workflow: workflows['vm-snapshot']})
    if (!('dryRun' in result)) this.log(describeRun(result))
    return result
  }
}
