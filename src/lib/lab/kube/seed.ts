/**
 * Nodes as kubeadm and the kubelet register them, the control plane's static pods, and a demo
 * workload set that exercises every drain rule: PDB-guarded Deployments, a DaemonSet, a pod with
 * emptyDir data, an unmanaged pod, and mirror pods on the control-plane node.
 */
import {randomUUID} from 'node:crypto'

import {type Cluster, DAEMONSETS, def, DEPLOYMENTS, NAMESPACES, NODES, PDBS, PODS, REPLICASETS} from './cluster.js'
import type {Node, Pod, PodTemplate, ReplicaSet} from './types.js'

export interface RegisterNodeOptions {
  /** Label and taint it as a kubeadm control-plane node and run the control plane's static pods on it. */
  controlPlane?: boolean
  /** InternalIP; 10.10.0.(11 + number of nodes) by default. */
  ip?: string
  kubeletVersion?: string
}

const LEASES = def('coordination.k8s.io', 'leases')

export function addStaticPod(cluster: Cluster, node: string, pod: Pod): void {
  const list = cluster.store.state.staticPods.filter((s) => !(s.node === node && s.pod.metadata.name === pod.metadata.name))
  cluster.store.state.staticPods = [...list, {node, pod}]
  cluster.store.save()
}

function controlPlanePod(component: string, image: string, port: number): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {labels: {component, tier: 'control-plane'}, name: component, namespace: 'kube-system'},
    spec: {
      containers: [{command: [component], image, name: component, readinessProbe: {httpGet: {host: '127.0.0.1', path: component === 'etcd' ? '/readyz' : '/healthz', port, scheme: 'HTTPS'}}}],
      hostNetwork: true,
      priority: 2000001000,
      priorityClassName: 'system-node-critical',
      tolerations: [{effect: 'NoExecute', operator: 'Exists'}],
    },
  }
}

export function registerNode(cluster: Cluster, name: string, options: RegisterNodeOptions = {}): Node {
  const index = cluster.all(NODES).length
  const version = options.kubeletVersion ?? 'v1.31.8'
  const ip = options.ip ?? `10.10.0.${11 + index}`
  const conditions = [
    ['MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'],
    ['DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'],
    ['PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'],
    ['Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'],
  ].map(([type, status, reason, message]) => ({lastHeartbeatTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), message, reason, status, type}))
  const labels: Record<string, string> = {
    'beta.kubernetes.io/arch': 'amd64', 'beta.kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux',
  }
  if (options.controlPlane) {
    labels['node-role.kubernetes.io/control-plane'] = ''
    labels['node.kubernetes.io/exclude-from-external-load-balancers'] = ''
  }
  const resources = {cpu: '2', 'ephemeral-storage': '20463184Ki', 'hugepages-2Mi': '0', memory: '4010196Ki', pods: '110'}
  const node = cluster.create<Node>(NODES, undefined, {
    metadata: {
      annotations: {'kubeadm.alpha.kubernetes.io/cri-socket': 'unix:///var/run/containerd/containerd.sock', 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true'},
      labels,
      name,
    },
    spec: {
      podCIDR: `10.244.${index}.0/24`,
      podCIDRs: [`10.244.${index}.0/24`],
      ...(options.controlPlane ? {taints: [{effect: 'NoSchedule', key: 'node-role.kubernetes.io/control-plane'}]} : {}),
    },
    status: {
      addresses: [{address: ip, type: 'InternalIP'}, {address: name, type: 'Hostname'}],
      allocatable: resources,
      capacity: resources,
      conditions,
      daemonEndpoints: {kubeletEndpoint: {Port: 10250}},
      nodeInfo: {
        architecture: 'amd64', bootID: randomUUID(), containerRuntimeVersion: 'containerd://1.7.24', kernelVersion: '6.1.0-28-amd64', kubeProxyVersion: version, kubeletVersion: version,
        machineID: randomUUID().replace(/-/g, ''), operatingSystem: 'linux', osImage: 'Debian GNU/Linux 12 (bookworm)', systemUUID: randomUUID(),
      },
    },
  })
  cluster.create(LEASES, 'kube-node-lease', {
    metadata: {name, ownerReferences: [{apiVersion: 'v1', kind: 'Node', name, uid: node.metadata.uid ?? ''}]},
    spec: {holderIdentity: name, leaseDurationSeconds: 40, renewTime: new Date().toISOString().replace('Z', '000Z')},
  })
  if (options.controlPlane) {
    addStaticPod(cluster, name, controlPlanePod('etcd', 'registry.k8s.io/etcd:3.5.15-0', 2381))
    for (const [component, port] of [['kube-apiserver', 6443], ['kube-controller-manager', 10257], ['kube-scheduler', 10259]] as const) {
      addStaticPod(cluster, name, controlPlanePod(component, `registry.k8s.io/${component}:${version}`, port))
    }
  }
  return node
}

export interface SeedDemoOptions {
  kubeletVersion?: string
  /** Node names; the first is the control-plane node. */
  nodes: string[]
}

function template(app: string, image: string, extra: Partial<PodTemplate['spec']> = {}): PodTemplate {
  return {metadata: {labels: {app}}, spec: {containers: [{image, name: app, ports: [{containerPort: 8080, protocol: 'TCP'}]}], terminationGracePeriodSeconds: 30, ...extra}}
}

/**
 * Nodes (the first one control-plane) and: Deployment `web` (3) with PDB `web` minAvailable 2,
 * Deployment `api` (2) with PDB `api` maxUnavailable 1, DaemonSet `node-exporter` (namespace
 * monitoring) on every node, ReplicaSet `cache` owning pod `cache-0` with an emptyDir volume, and an
 * unmanaged pod `debug`; `cache-0` and `debug` run on the first worker.
 */
export function seedDemo(cluster: Cluster, options: SeedDemoOptions): void {
  options.nodes.forEach((name, i) => {
    if (!cluster.find(NODES, undefined, name)) registerNode(cluster, name, {controlPlane: i === 0, kubeletVersion: options.kubeletVersion})
  })
  const worker = options.nodes[1] ?? options.nodes[0] ?? ''
  if (!cluster.find(NAMESPACES, undefined, 'monitoring')) cluster.create(NAMESPACES, undefined, {metadata: {labels: {'kubernetes.io/metadata.name': 'monitoring'}, name: 'monitoring'}})
  cluster.create(DEPLOYMENTS, 'default', {metadata: {labels: {app: 'web'}, name: 'web'}, spec: {replicas: 3, selector: {matchLabels: {app: 'web'}}, template: template('web', 'nginx:1.27')}})
  cluster.create(PDBS, 'default', {metadata: {name: 'web'}, spec: {minAvailable: 2, selector: {matchLabels: {app: 'web'}}}})
  cluster.create(DEPLOYMENTS, 'default', {metadata: {labels: {app: 'api'}, name: 'api'}, spec: {replicas: 2, selector: {matchLabels: {app: 'api'}}, template: template('api', 'ghcr.io/example/api:2.4.1')}})
  cluster.create(PDBS, 'default', {metadata: {name: 'api'}, spec: {maxUnavailable: 1, selector: {matchLabels: {app: 'api'}}}})
  cluster.create(DAEMONSETS, 'monitoring', {
    metadata: {labels: {app: 'node-exporter'}, name: 'node-exporter'},
    spec: {selector: {matchLabels: {app: 'node-exporter'}}, template: template('node-exporter', 'quay.io/prometheus/node-exporter:v1.8.2', {hostNetwork: true, tolerations: [{operator: 'Exists'}]})},
  })
  const cacheTemplate = template('cache', 'redis:7.4', {volumes: [{emptyDir: {}, name: 'data'}]})
  const rs = cluster.create<ReplicaSet>(REPLICASETS, 'default', {metadata: {labels: {app: 'cache'}, name: 'cache'}, spec: {replicas: 1, selector: {matchLabels: {app: 'cache'}}, template: cacheTemplate}})
  cluster.create(PODS, 'default', {
    metadata: {labels: {app: 'cache'}, name: 'cache-0', ownerReferences: [{apiVersion: 'apps/v1', blockOwnerDeletion: true, controller: true, kind: 'ReplicaSet', name: 'cache', uid: rs.metadata.uid ?? ''}]},
    spec: {...cacheTemplate.spec, nodeName: worker},
  })
  cluster.create(PODS, 'default', {metadata: {labels: {run: 'debug'}, name: 'debug'}, spec: {containers: [{args: ['sleep', 'infinity'], image: 'busybox:1.37', name: 'debug'}], nodeName: worker, terminationGracePeriodSeconds: 30}})
}
