import {Flags} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import type {LabDownResult} from '../../lib/lab/cli/down.js'

export default class LabDown extends BaseCommand<typeof LabDown> {
  static description = `Stop the lab and remove it: every VM, process, overlay mount, namespace, link and address it made.
Also cleans up after a lab whose supervisor crashed. The lab folder (VM disks, kp.yaml, secrets, SSH key) is removed unless --keep; the node image cache (/var/cache/kp-lab) stays, so the next kp lab up is fast.`

  static examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --keep']
  static flags = {
    keep: Flags.boolean({description: 'Keep the lab folder (VM disks, logs, kp.yaml) for inspection.'}),
  }

  async run(): Promise<LabDownResult> {
    const {labDown} = await import('../../lib/lab/cli/down.js')
    const result = await labDown(this.stateDir, {keep: this.flags.keep})
    const swept = result.leftovers
    const left = swept.processes + swept.mounts.length + swept.netns.length + swept.links.length
    this.log(result.supervisor === 'none' ? 'No lab supervisor was running.' : `Lab supervisor ${result.supervisor}.`)
    if (left > 0) this.log(`Removed leftovers: ${swept.processes} processes, ${swept.mounts.length} mounts, ${swept.netns.length} namespaces, ${swept.links.length} links.`)
    this.log(result.removed ? `Removed ${result.dir}.` : `Kept ${result.dir}.`)
    return result
  }
}
