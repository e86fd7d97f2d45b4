import {Flags} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'

/** The background process `kp lab up` starts; not for direct use. */
export default class LabSupervise extends BaseCommand<typeof LabSupervise> {
  static description = 'Run the lab supervisor in the foreground (kp lab up starts it in the background).'
  static hidden = true
  static flags = {
    'cert-days': Flags.integer({default: 365, description: 'Lifetime in days of the certificates the lab issues.'}),
    cluster: Flags.string({default: 'lab', description: 'Cluster name the lab is for.'}),
    dir: Flags.string({description: 'The lab folder.', required: true}),
    'kube-nodes': Flags.string({description: 'Start the lab Kubernetes API with these nodes (comma-separated, the first a control plane).'}),
    'kubernetes-version': Flags.string({default: '1.31.8', description: 'Version the lab Kubernetes API reports.'}),
    'pve-nodes': Flags.integer({default: 1, description: 'Proxmox nodes the simulated cluster has.'}),
  }

  async run(): Promise<void> {
    const {superviseLab} = await import('../../lib/lab/cli/supervisor.js')
    const kube = this.flags['kube-nodes'] ? {nodes: this.flags['kube-nodes'].split(','), version: this.flags['kubernetes-version']} : undefined
    await superviseLab(this.flags.dir, this.flags.cluster, this.flags['pve-nodes'], kube, {certDays: this.flags['cert-days']})
    // The servers it started keep this process alive until SIGTERM or POST /stop.
  }
}
