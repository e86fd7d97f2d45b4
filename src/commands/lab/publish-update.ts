import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import type {PublishUpdateResult} from '../../lib/lab/cli/publish.js'

export default class LabPublishUpdate extends BaseCommand<typeof LabPublishUpdate> {
  static args = {packages: Args.string({description: 'Packages installed in the lab node image (e.g. openssh-server, linux-image-kplab).', required: true})}
  static description = `Publish a newer version of packages installed in the lab VMs into the lab's updates repository, which every lab VM has as an apt source: the real package (Debian's .deb from the lab's apt cache, or repacked from the node image) with its version bumped to <installed>+kplab<N>, so apt-get upgrade in a VM is a real upgrade.
linux-image-kplab, the image's kernel-like package, always asks for a reboot when upgraded (/var/run/reboot-required and reboot-required.pkgs, as Debian's kernel hooks write them); --reboot-required makes any package's update do the same. The Kubernetes packages come from their own repositories and are refused.`

  static examples = [
    '<%= config.bin %> <%= command.id %> linux-image-kplab',
    '<%= config.bin %> <%= command.id %> openssh-server sudo --reboot-required',
    '<%= config.bin %> <%= command.id %> procps --version 2:4.0.2-3+kplab9 --json',
  ]

  static flags = {
    'reboot-required': Flags.boolean({description: "The new versions' postinst writes /var/run/reboot-required and adds the package to reboot-required.pkgs."}),
    version: Flags.string({description: 'Publish this version instead of <installed>+kplab<N> (one package; must be newer than the installed one).'}),
  }

  static strict = false

  async run(): Promise<PublishUpdateResult> {
    const {labPublishUpdate} = await import('../../lib/lab/cli/publish.js')
    const {argv} = await this.parse(LabPublishUpdate)
    const result = await labPublishUpdate(this.stateDir, {packages: argv as string[], rebootRequired: this.flags['reboot-required'], version: this.flags.version})
    for (const p of result.published) {
      const from = p.source === 'apt-cacher-ng' ? "Debian's .deb" : 'repacked from the node image'
      this.log(`Published ${p.package} ${p.version} (installed: ${p.installed}; ${from})${p.rebootRequired ? ', needs a reboot' : ''}.`)
    }

    this.log(`\nRepository ${result.repoUrl}\nEvery lab VM has it in /etc/apt/sources.list.d/kp-lab-updates.list:\n  ${result.sourceLine}\nIn a VM: sudo apt-get update && sudo apt-get upgrade`)
    return result
  }
}
