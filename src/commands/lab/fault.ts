import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import type {FaultResult} from '../../lib/lab/cli/control.js'

export default class LabFault extends BaseCommand<typeof LabFault> {
  static args = {nodes: Args.string({description: 'VMs (names or VMIDs) that get the VM faults.'})}
  static description = `Inject faults into the running lab, to rehearse failures: a slow or failing Proxmox API, a task that fails, a guest agent that never answers, a slow reboot, SSH sessions that drop, a boot that hangs (until a snapshot rollback), a dpkg lock held by another process, a kubelet that stays NotReady after the next reboot; with kp lab up --cluster also a slow or failing Kubernetes API, a PodDisruptionBudget that blocks, a pod that never terminates, a kubelet that stops posting status; on a kubeadm cluster in the lab an etcd member kept stopped.
API faults apply to every call; VM, kubelet and etcd faults to the nodes named. --clear removes them all.`

  static examples = [
    '<%= config.bin %> <%= command.id %> --api-latency 100-800 --api-error-rate 0.1',
    '<%= config.bin %> <%= command.id %> --api-error-rate 0.3 --api-error-status 503 --api-latency 50-200',
    '<%= config.bin %> <%= command.id %> --api-lock-contention 0.2',
    '<%= config.bin %> <%= command.id %> --fail-task qmclone',
    '<%= config.bin %> <%= command.id %> cp1 w1 --agent-down',
    '<%= config.bin %> <%= command.id %> w1 --reboot-delay 30',
    '<%= config.bin %> <%= command.id %> cp1 --drop-ssh',
    '<%= config.bin %> <%= command.id %> w2 --no-boot',
    '<%= config.bin %> <%= command.id %> w1 --dpkg-lock',
    '<%= config.bin %> <%= command.id %> w3 --kubelet-not-ready-after-reboot',
    '<%= config.bin %> <%= command.id %> --block-pdb default/web --stuck-pod default/debug',
    '<%= config.bin %> <%= command.id %> w1 --kubelet-down',
    '<%= config.bin %> <%= command.id %> cp1 --etcd-down',
    '<%= config.bin %> <%= command.id %> cp2 --apiserver-wont-start',
    '<%= config.bin %> <%= command.id %> cp1 --upgrade-apply-fails',
    '<%= config.bin %> <%= command.id %> --clear',
  ]

  static flags = {
    'agent-down': Flags.boolean({description: "The VMs' guest agent stops answering."}),
    'agent-up': Flags.boolean({description: "The VMs' guest agent answers again."}),
    'api-error-after': Flags.boolean({description: 'The failing API calls are carried out first; only their answer is lost (as behind a gateway).'}),
    'api-error-rate': Flags.string({description: 'Fraction (0–1) of Proxmox API calls that fail; 0 turns it off.'}),
    'api-error-method': Flags.string({description: 'Only calls with this HTTP method fail (GET: reads only).', options: ['GET', 'POST', 'PUT', 'DELETE']}),
    'api-error-status': Flags.integer({description: 'HTTP status of the injected API errors.', default: 500}),
    'api-lock-contention': Flags.string({description: "Fraction (0–1) of the API calls on a VM that Proxmox refuses with its lock timeout (500 can't lock file … got timeout); 0 turns it off."}),
    'api-latency': Flags.string({description: 'Extra latency of every Proxmox API call, ms or MIN-MAX; 0 turns it off.'}),
    'block-pdb': Flags.string({description: 'This PodDisruptionBudget (NAMESPACE/NAME) allows no disruption: evictions get 429.', multiple: true}),
    clear: Flags.boolean({description: 'Remove every fault (of the VMs named, or all).'}),
    'drop-next-ssh': Flags.integer({description: 'Cut the next N SSH sessions to the VMs as they start.', min: 1}),
    'dpkg-lock': Flags.boolean({description: "A process in the VMs holds dpkg's locks as apt does: apt-get and dpkg fail with \"Could not get lock … It is held by process N\"."}),
    'dpkg-unlock': Flags.boolean({description: 'The process holding the dpkg locks ends.'}),
    'drop-ssh': Flags.boolean({description: 'Cut the open SSH sessions to the VMs now.'}),
    'apiserver-starts': Flags.boolean({description: "The nodes' kube-apiserver starts normally again (the lab kubelet's back-off is reset)."}),
    'apiserver-wont-start': Flags.boolean({description: "The nodes' kube-apiserver exits at once whenever the lab kubelet starts it next (after its manifest is moved back, a reboot): CrashLoopBackOff."}),
    'upgrade-apply-fails': Flags.boolean({
      description: "Every `kubeadm upgrade apply` on the nodes (control planes) fails half-way until --clear: etcd's and kube-apiserver's manifests are rewritten, the new kube-apiserver never comes up, kubeadm rolls the manifests back and exits 1.",
    }),
    'etcd-down': Flags.boolean({description: "The nodes' etcd member is stopped (SIGTERM) and the lab kubelet does not start it again."}),
    'etcd-up': Flags.boolean({description: "The nodes' etcd member is started again from its static pod manifest."}),
    'fail-task': Flags.string({description: 'The next Proxmox task of this type fails (qmclone, qmstart, qmreboot, resize, qmsnapshot…).'}),
    'fail-task-message': Flags.string({description: "The failing task's exit status."}),
    'kube-error-rate': Flags.string({description: 'Fraction (0–1) of Kubernetes API calls that fail; 0 turns it off.'}),
    'kube-error-status': Flags.integer({default: 500, description: 'HTTP status of the injected Kubernetes API errors (500, 503, 504).'}),
    'kube-latency': Flags.string({description: 'Extra latency of every Kubernetes API call, ms or MIN-MAX; 0 turns it off.'}),
    'kubelet-down': Flags.boolean({description: "The nodes' kubelet stops posting status: the node turns NotReady."}),
    'kubelet-not-ready-after-reboot': Flags.boolean({description: "After the VMs' next boot their kubelet runs but the node stays NotReady (until --kubelet-up or --clear)."}),
    'kubelet-up': Flags.boolean({description: "The nodes' kubelet posts status again (if its VM runs the kubelet service)."}),
    'no-boot': Flags.boolean({
      description: "The VMs' next boot hangs before the OS runs: Proxmox shows them running, nothing answers (network, SSH, agent, kubelet); a shutdown waits out its timeout. A rollback to a snapshot (kp vm rollback) or --clear ends it.",
    }),
    'reboot-delay': Flags.integer({description: 'Seconds the VMs stay down when they reboot (a slow reboot).', min: 0}),
    'stuck-pod': Flags.string({description: 'This pod (NAMESPACE/NAME) never finishes terminating once deleted.', multiple: true}),
  }

  static strict = false

  async run(): Promise<FaultResult> {
    const {labFault} = await import('../../lib/lab/cli/inspect.js')
    const {argv} = await this.parse(LabFault)
    const f = this.flags
    const rate = (flag: string | undefined) => (flag === undefined ? undefined : Number(flag))
    const result = await labFault(this.stateDir, {
      agentDown: f['agent-down'], agentUp: f['agent-up'], apiserverStarts: f['apiserver-starts'], apiserverWontStart: f['apiserver-wont-start'], upgradeApplyFails: f['upgrade-apply-fails'], apiErrorAfter: f['api-error-after'], apiErrorMethod: f['api-error-method'], apiErrorRate: rate(f['api-error-rate']),
      apiErrorStatus: f['api-error-status'], apiLatency: f['api-latency'], apiLockContention: rate(f['api-lock-contention']),
      blockPdb: f['block-pdb'], clear: f.clear, dpkgLock: f['dpkg-lock'], dpkgUnlock: f['dpkg-unlock'], dropNextSsh: f['drop-next-ssh'], dropSsh: f['drop-ssh'], etcdDown: f['etcd-down'], etcdUp: f['etcd-up'], failTask: f['fail-task'], failTaskMessage: f['fail-task-message'],
      kubeErrorRate: rate(f['kube-error-rate']), kubeErrorStatus: f['kube-error-status'], kubeLatency: f['kube-latency'], kubeletDown: f['kubelet-down'], kubeletNotReadyAfterReboot: f['kubelet-not-ready-after-reboot'],
      kubeletUp: f['kubelet-up'], noBoot: f['no-boot'], nodes: argv as string[], rebootDelay: f['reboot-delay'], stuckPod: f['stuck-pod'],
    })
    for (const [vmid, cut] of Object.entries(result.cutSessions)) this.log(`VM ${vmid}: cut ${cut} SSH session(s).`)
    const vmFaults = result.state.vms.filter((vm) => Object.keys(vm.faults).length > 0).map((vm) => `${vm.name}: ${JSON.stringify(vm.faults)}`)
    const {cloneLock: _lock, ...api} = result.state.faults
    this.log(`Proxmox API faults: ${Object.keys(api).length > 0 ? JSON.stringify(api) : 'none'}`)
    this.log(`VM faults: ${vmFaults.length > 0 ? vmFaults.join('; ') : 'none'}`)
    const {kube} = result.state
    if (kube) {
      this.log(`Kubernetes API faults: ${Object.keys(kube.faults).length > 0 ? JSON.stringify(kube.faults) : 'none'}`)
      this.log(`Kubelets down: ${kube.kubeletDown.length > 0 ? kube.kubeletDown.join(', ') : 'none'}`)
    }
    if (result.state.etcd) this.log(`etcd members down: ${result.state.etcd.down.length > 0 ? result.state.etcd.down.join(', ') : 'none'}`)
    return result
  }
}
