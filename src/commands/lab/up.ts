import {Flags} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import type {LabUpResult} from '../../lib/lab/cli/up.js'

export default class LabUp extends BaseCommand<typeof LabUp> {
  static description = `Start the local rehearsal lab: a simulated Proxmox host whose VMs are real SSH machines.
Needs root on a Linux machine you can spare (namespaces, overlay mounts, a bridge 10.77.0.1/24). Starts a supervisor in the background, creates the cloud-init template (VMID 9000) and writes kp.yaml, the API token secret (0600) and an SSH key into the lab folder (<state-dir>/lab). The first run builds the Debian node image with debootstrap (minutes); later runs reuse it. Running it again while the lab is up reports that lab.`

  static examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --nodes 5 --control-planes 3 --json']
  static flags = {
    'cert-days': Flags.integer({default: 365, description: "Lifetime in days of the certificates the lab issues: kubeadm's (its CAs live 3650) and the API servers' serving certificates; shorter to rehearse expiring certificates."}),
    cluster: Flags.boolean({description: 'Also run the lab Kubernetes API with the nodes registered and demo workloads (Deployments with PDBs, a DaemonSet, an emptyDir pod, an unmanaged pod); writes <lab>/kubeconfig.'}),
    'control-planes': Flags.integer({default: 1, description: 'How many of the nodes in kp.yaml are control planes (odd: 1, 3, 5…).'}),
    'kubernetes-version': Flags.string({default: '1.31.8', description: "Kubernetes version for kp.yaml; one the lab's repositories carry (1.30.13 … 1.33.5)."}),
    nodes: Flags.integer({default: 3, description: 'How many nodes kp.yaml describes (VMIDs 201…, IPs 10.77.0.11…).'}),
    'pve-nodes': Flags.integer({default: 1, description: 'Proxmox nodes in the simulated cluster (pve, pve2…), to rehearse pveNode placement; cross-node clones need the shared storage "shared".'}),
  }

  async run(): Promise<LabUpResult> {
    const {labUp} = await import('../../lib/lab/cli/up.js')
    const {PHASE_TITLES} = await import('../../lib/lab/cli/status.js')
    const result = await labUp(
      this.stateDir,
      {controlPlanes: this.flags['control-planes'], kubernetesVersion: this.flags['kubernetes-version'], nodes: this.flags.nodes},
      {certDays: this.flags['cert-days'], onPhase: (phase) => phase !== 'ready' && this.logToStderr(`  ${PHASE_TITLES[phase]}…`), kube: this.flags.cluster, pveNodes: this.flags['pve-nodes']},
    )
    this.log(result.alreadyUp ? `The lab is already up (supervisor ${result.supervisorPid}).` : 'The lab is up.')
    this.log(`
  folder       ${result.dir}
  config       ${result.config}
  Proxmox API  ${result.proxmox.endpoint}  (token ${result.proxmox.tokenId})
  fingerprint  ${result.proxmox.fingerprint}
  SSH key      ${result.sshKey}  (user ${result.sshUser})
  packages     ${result.packages.repoBaseUrl}
${result.kubeconfig ? `  kubeconfig   ${result.kubeconfig}  (kubectl --kubeconfig ${result.kubeconfig} get nodes)\n` : ''}  nodes        ${result.nodes.map((n) => `${n.name} ${n.ip}`).join(', ')}

Next:
${result.next.map((line) => `  ${line}`).join('\n')}`)
    return result
  }
}
