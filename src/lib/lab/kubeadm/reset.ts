/**
 * `kubeadm reset [-f]` in the lab: the confirmation kubeadm asks for, the kubelet stopped through
 * the VM's systemctl, kubeadm's files removed from the VM, and on the lab's side the node leaves
 * its cluster (a control plane's static pods and etcd member go); when no control plane is left,
 * the cluster's API server stops and the lab forgets the cluster.
 */
import {PODS} from '../kube/cluster.js'
import type {Pod} from '../kube/types.js'
import {flagBool} from './argv.js'
import {type Call, fail, out, rootCheck} from './context.js'
import {klogWarning} from './output.js'
import {kubeconfigServer} from './vm.js'
import {emptyVmDir, removeVmPaths} from './vm-files.js'
import {removeMember} from './etcd-phase.js'

const FILES = ['/etc/kubernetes/admin.conf', '/etc/kubernetes/super-admin.conf', '/etc/kubernetes/kubelet.conf', '/etc/kubernetes/bootstrap-kubelet.conf', '/etc/kubernetes/controller-manager.conf', '/etc/kubernetes/scheduler.conf']
const DIRS = ['/etc/kubernetes/manifests', '/var/lib/kubelet', '/etc/kubernetes/pki']

export async function kubeadmReset(c: Call): Promise<number> {
  const server = kubeconfigServer(c.vm.root, '/etc/kubernetes/kubelet.conf') ?? kubeconfigServer(c.vm.root, '/etc/kubernetes/admin.conf')
  const running = server ? c.lab.clusters.byEndpoint(server) : undefined
  if (running) out(c, '[reset] Reading configuration from the cluster...', "[reset] FYI: You can look at this config file with 'kubectl -n kube-system get cm kubeadm-config -o yaml'")
  if (!flagBool(c.call, 'force')) {
    c.session.err(klogWarning("[reset] WARNING: Changes made to this host by 'kubeadm init' or 'kubeadm join' will be reverted.", 'reset.go:123', 1000 + c.vm.vmid))
    const answer = await c.session.ask('[reset] Are you sure you want to proceed? [y/N]: ')
    if (answer.trim().toLowerCase() !== 'y') fail(c, 'aborted reset operation\n')
  }

  out(c, '[preflight] Running pre-flight checks')
  rootCheck(c)
  const member = running?.record.members.find((m) => m.vmid === c.vm.vmid)
  if (running && member?.role === 'control-plane') {
    await removeMember(c, running, member)
    out(c, '[reset] Deleted contents of the etcd data directory: /var/lib/etcd')
  }
  out(c, '[reset] Stopping the kubelet service')
  await c.session.run(['systemctl', 'stop', 'kubelet'])
  // cleanup-node removes the node's containers through the CRI before the files go.
  await c.lab.pods.remove({...c.vm, booted: true})
  out(c, '[reset] Unmounting mounted directories in "/var/lib/kubelet"')
  removeVmPaths(c.vm.root, ['/var/lib/etcd'])
  for (const dir of DIRS) emptyVmDir(c.vm.root, dir)
  removeVmPaths(c.vm.root, FILES)
  out(c, `[reset] Deleting contents of directories: [${DIRS.join(' ')}]`, `[reset] Deleting files: [${FILES.join(' ')}]`)
  c.session.out(`
The reset process does not clean CNI configuration. To do so, you must remove /etc/cni/net.d

The reset process does not reset or clean up iptables rules or IPVS tables.
If you wish to reset iptables, you must do so manually by using the "iptables" command.

If your cluster was setup to utilize IPVS, run ipvsadm --clear (or similar)
to reset your system's IPVS tables.

The reset process does not clean your kubeconfig files and you must remove them manually.
Please, check the contents of the $HOME/.kube/config file.
`)

  if (running && member) {
    const {kube, record} = running
    record.members = record.members.filter((m) => m.vmid !== c.vm.vmid)
    if (member.role === 'control-plane') {
      // Its etcd member and static pods go; the Node object stays until someone deletes it, as on a real cluster.
      const state = kube.cluster.store.state
      state.staticPods = state.staticPods.filter((s) => s.node !== member.name)
      kube.cluster.store.save()
      for (const pod of kube.cluster.all<Pod>(PODS, 'kube-system')) {
        if (pod.spec?.nodeName === member.name && pod.metadata.annotations?.['kubernetes.io/config.mirror']) kube.cluster.store.remove(PODS, 'kube-system', pod.metadata.name)
      }
    }

    if (record.members.some((m) => m.role === 'control-plane')) {
      c.lab.clusters.save(record)
    } else {
      await c.lab.clusters.stop(record.name)
      c.lab.clusters.store.remove(record.name)
      c.lab.log(`kubeadm cluster ${record.name}: no control plane left, forgotten`)
    }

    c.lab.log(`kubeadm reset on ${c.vm.name}: left cluster ${record.name}`)
  }

  return 0
}
