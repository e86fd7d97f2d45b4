/**
 * The steps init and join share on the node: writing kubeadm's files into the VM, the
 * kubelet-start phase (stop the kubelet, write its files, start it again — through the VM's own
 * systemctl, so its calls are logged and the service state is real), and mark-control-plane.
 */
import {parse} from 'yaml'

import {NODES} from '../kube/cluster.js'
import type {Pod} from '../kube/types.js'
import type {RunningCluster} from './clusters.js'
import {type Call, fail, out} from './context.js'
import type {NodeFiles} from './node-files.js'
import {goDuration, phaseError} from './output.js'
import {writeVmFiles} from './vm-files.js'

const isKubeletFile = (file: string) => file.startsWith('/var/lib/kubelet/')

/** Writes everything but the kubelet's own files; those come with the kubelet stopped (startKubelet). */
export async function writeNodeFiles(c: Call, files: NodeFiles): Promise<void> {
  writeVmFiles(c.vm.root, [...files].filter(([file]) => !isKubeletFile(file)))
  // kubeadm stops the kubelet before touching its configuration, so it never reads half a file.
  await c.session.run(['systemctl', 'stop', 'kubelet'])
  writeVmFiles(c.vm.root, [...files].filter(([file]) => isKubeletFile(file)))
  out(c,
    '[kubelet-start] Writing kubelet environment file with flags to file "/var/lib/kubelet/kubeadm-flags.env"',
    '[kubelet-start] Writing kubelet configuration to file "/var/lib/kubelet/config.yaml"',
  )
}

/** kubelet-start's TryStartKubelet. */
export async function startKubelet(c: Call): Promise<void> {
  out(c, '[kubelet-start] Starting the kubelet')
  const restart = await c.session.run(['systemctl', 'restart', 'kubelet'])
  if (restart.code !== 0) out(c, `[kubelet-start] WARNING: unable to start the kubelet service: [${restart.output.trim()}]`, '[kubelet-start] Please ensure kubelet is reloaded and running manually.')
}

/** The kubelet health check (kubelet-check) that follows. */
export function kubeletCheck(c: Call): void {
  const started = Date.now()
  out(c, '[kubelet-check] Waiting for a healthy kubelet at http://127.0.0.1:10248/healthz. This can take up to 4m0s')
  if (!c.vm.serviceActive('kubelet.service')) {
    // The real kubeadm waits 4 minutes for a kubelet that never answers; the lab knows at once.
    out(c, '[kubelet-check] The kubelet is not healthy after 4m0s', '', 'Unfortunately, an error has occurred, likely caused by:', '\t- The kubelet is not running', '\t- The kubelet is unhealthy due to a misconfiguration of the node in some way (required cgroups disabled)', '')
    fail(c, phaseError('wait-control-plane', 'failed while waiting for the kubelet: kubelet is not healthy'))
  }

  out(c, `[kubelet-check] The kubelet is healthy after ${goDuration(Date.now() - started + 500)}`)
}

/** The node as kubeadm's mark-control-plane leaves it: registered (by its kubelet), labelled and tainted, its static pods mirrored. */
export async function markControlPlane(c: Call, running: RunningCluster, nodeName: string, files?: NodeFiles): Promise<void> {
  const registered = await c.lab.registerNode(c.vm)
  const {cluster} = running.kube
  if (!registered || !cluster.find(NODES, undefined, nodeName)) {
    fail(c, phaseError('mark-control-plane', `error patching Node "${nodeName}": timed out waiting for the condition: nodes "${nodeName}" not found`))
  }

  cluster.patch(NODES, undefined, nodeName, 'application/strategic-merge-patch+json', {
    metadata: {labels: {'node-role.kubernetes.io/control-plane': '', 'node.kubernetes.io/exclude-from-external-load-balancers': ''}},
    spec: {taints: [{effect: 'NoSchedule', key: 'node-role.kubernetes.io/control-plane'}]},
  })
  for (const [file, {content}] of files ?? []) {
    if (!file.startsWith('/etc/kubernetes/manifests/')) continue
    running.kube.addStaticPod(nodeName, parse(content) as Pod)
  }

  out(c,
    `[mark-control-plane] Marking the node ${nodeName} as control-plane by adding the labels: [node-role.kubernetes.io/control-plane node.kubernetes.io/exclude-from-external-load-balancers]`,
    `[mark-control-plane] Marking the node ${nodeName} as control-plane by adding the taints [node-role.kubernetes.io/control-plane:NoSchedule]`,
  )
}
