/**
 * The kp.yaml `kp lab up` writes: a cluster on the lab network whose secrets and keys live in the
 * lab folder, so `KP_CONFIG=<lab>/kp.yaml kp …` works without touching the user's own files.
 */
import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {SCHEMA_FILE_NAME} from '../../config/defaults.js'

import {renderConfig} from '../../config/init.js'
import {configJsonSchema} from '../../config/json-schema.js'
import type {KpConfigInput} from '../../config/schema.js'
import {parseConfig} from '../../config/validate.js'
import {LAB_MINORS} from '../host/index.js'
import {LAB_RELEASES} from '../host/packages.js'
import {LAB_PVE_NODE, LAB_TEMPLATE_VMID, LAB_TOKEN_ID, LAB_USER, type LabPaths} from './files.js'

/** The lab network: the bridge address is the gateway, the API, the apt proxy and the repositories. */
export const LAB_HOST_IP = '10.77.0.1'
/**
 * The control-plane endpoint of the lab's kp.yaml: a virtual IP the lab host answers (on the
 * bridge), standing for the load balancer or keepalived VIP in front of a real cluster's control
 * planes. The lab's kubeadm serves each cluster's API there.
 */
export const LAB_CONTROL_PLANE_ENDPOINT = '10.77.0.10:6443'
export const LAB_FIRST_NODE_IP = 11
export const LAB_FIRST_VMID = 201
export const LAB_MAX_NODES = 20
export const LAB_DEFAULT_VERSION = '1.31.8'

export interface LabLayout {
  controlPlanes: number
  kubernetesVersion: string
  nodes: number
}

export interface LabEndpoints {
  apiUrl: string
  fingerprint: string
  /** The lab Kubernetes API runs (kp lab up --cluster): kp.yaml points at its kubeconfig. */
  kubeUrl?: string
  repoBaseUrl: string
  /** Fingerprint of the key that signs the lab's repositories, which kp.yaml pins: they are served over http. */
  repoKeyFingerprint: string
}

/** Versions the lab's repositories carry, e.g. 1.30.13 … 1.33.5. */
export function labVersions(): string[] {
  return LAB_RELEASES.flatMap((r) => r.patches)
}

/** What is wrong with a layout, in the words of the flags; undefined when it is fine. */
export function layoutProblem(layout: LabLayout): string | undefined {
  if (!Number.isInteger(layout.nodes) || layout.nodes < 1 || layout.nodes > LAB_MAX_NODES) return `--nodes must be 1 to ${LAB_MAX_NODES}`
  if (!Number.isInteger(layout.controlPlanes) || layout.controlPlanes < 1 || layout.controlPlanes > layout.nodes) return `--control-planes must be 1 to --nodes (${layout.nodes})`
  // kp.yaml refuses an even number (etcd's majority): say so here rather than fail writing it.
  if (layout.controlPlanes % 2 === 0) return `--control-planes must be odd (1, 3, 5…): etcd needs a majority, so ${layout.controlPlanes} tolerate no more failures than ${layout.controlPlanes - 1}`
  if (!labVersions().includes(layout.kubernetesVersion)) {
    return `the lab's package repositories (Kubernetes ${LAB_MINORS.join(', ')}) have no ${layout.kubernetesVersion}; choose one of ${labVersions().join(', ')}`
  }

  return undefined
}

export function labNodes(layout: LabLayout) {
  return Array.from({length: layout.nodes}, (_, i) => {
    const cp = i < layout.controlPlanes
    return {
      ip: `10.77.0.${LAB_FIRST_NODE_IP + i}`,
      name: cp ? `cp${i + 1}` : `w${i - layout.controlPlanes + 1}`,
      role: cp ? ('control-plane' as const) : ('worker' as const),
      vmid: LAB_FIRST_VMID + i,
    }
  })
}

export function labConfig(cluster: string, layout: LabLayout, endpoints: LabEndpoints): KpConfigInput {
  const nodes = labNodes(layout).map((n) => ({...n, cores: 2, memoryMiB: 2048, diskGiB: 16}))
  return {
    cluster: {
      name: cluster,
      kubernetesVersion: layout.kubernetesVersion,
      controlPlaneEndpoint: LAB_CONTROL_PLANE_ENDPOINT,
      podSubnet: '10.244.0.0/16',
      serviceSubnet: '10.96.0.0/12',
      cni: {manifest: './cni.yaml'},
      ...(endpoints.kubeUrl ? {kubeconfig: './kubeconfig'} : {}),
    },
    proxmox: {
      endpoint: new URL(endpoints.apiUrl).origin,
      node: LAB_PVE_NODE,
      tokenId: LAB_TOKEN_ID,
      tokenSecret: {file: './secrets/pve-token'},
      fingerprint: endpoints.fingerprint,
      templateVmid: LAB_TEMPLATE_VMID,
      storage: 'local-lvm',
    },
    network: {bridge: 'vmbr0', gateway: LAB_HOST_IP, prefix: 24, dns: [LAB_HOST_IP], searchDomain: 'lab.internal'},
    ssh: {user: LAB_USER, identityFile: './ssh/id_ed25519', agent: false, knownHostsFile: './known_hosts'},
    packages: {kubernetesKeyFingerprint: endpoints.repoKeyFingerprint, kubernetesRepoBase: `${endpoints.repoBaseUrl}/core:/stable:`},
    nodes,
    maintenance: {drainTimeout: '5m', snapshotBeforeMaintenance: true, rebootPolicy: 'if-required'},
    health: {certificateWarnDays: 30, certificateCriticalDays: 7},
  }
}

/**
 * The lab's CNI manifest: a small flannel, shaped like upstream's kube-flannel.yml (namespace,
 * RBAC, net-conf.json with the pod subnet, a DaemonSet with hostNetwork, tolerations for every
 * NoSchedule taint and hostPath mounts of /etc/cni/net.d and /opt/cni/bin). The lab's kubelets
 * install a CNI configuration on a node once a pod of such a DaemonSet is bound to it, and the
 * node turns Ready, as with the real flannel.
 */
export function cniStandin(podSubnet: string): string {
  return `# kp lab: a flannel-like CNI manifest (kube-flannel.yml, reduced). The lab's nodes turn Ready once
# a pod of this DaemonSet runs on them and "installs" the CNI configuration in /etc/cni/net.d.
apiVersion: v1
kind: Namespace
metadata:
  name: kube-flannel
  labels:
    k8s-app: flannel
    pod-security.kubernetes.io/enforce: privileged
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: flannel
  namespace: kube-flannel
  labels:
    k8s-app: flannel
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: flannel
  labels:
    k8s-app: flannel
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get]
- apiGroups: [""]
  resources: [nodes]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [nodes/status]
  verbs: [patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: flannel
  labels:
    k8s-app: flannel
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: flannel
subjects:
- kind: ServiceAccount
  name: flannel
  namespace: kube-flannel
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: kube-flannel-cfg
  namespace: kube-flannel
  labels:
    app: flannel
    k8s-app: flannel
    tier: node
data:
  cni-conf.json: |
    {
      "name": "cbr0",
      "cniVersion": "0.3.1",
      "plugins": [
        {"type": "flannel", "delegate": {"hairpinMode": true, "isDefaultGateway": true}},
        {"type": "portmap", "capabilities": {"portMappings": true}}
      ]
    }
  net-conf.json: |
    {
      "Network": "${podSubnet}",
      "EnableNFTables": false,
      "Backend": {"Type": "vxlan"}
    }
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: kube-flannel-ds
  namespace: kube-flannel
  labels:
    app: flannel
    k8s-app: flannel
    tier: node
spec:
  selector:
    matchLabels:
      app: flannel
  template:
    metadata:
      labels:
        app: flannel
        tier: node
    spec:
      hostNetwork: true
      priorityClassName: system-node-critical
      serviceAccountName: flannel
      tolerations:
      - operator: Exists
        effect: NoSchedule
      initContainers:
      - name: install-cni-plugin
        image: docker.io/flannel/flannel-cni-plugin:v1.6.0-flannel1
        command: [cp]
        args: [-f, /flannel, /opt/cni/bin/flannel]
        volumeMounts:
        - name: cni-plugin
          mountPath: /opt/cni/bin
      - name: install-cni
        image: docker.io/flannel/flannel:v0.26.1
        command: [cp]
        args: [-f, /etc/kube-flannel/cni-conf.json, /etc/cni/net.d/10-flannel.conflist]
        volumeMounts:
        - name: cni
          mountPath: /etc/cni/net.d
        - name: flannel-cfg
          mountPath: /etc/kube-flannel/
      containers:
      - name: kube-flannel
        image: docker.io/flannel/flannel:v0.26.1
        command: [/opt/bin/flanneld]
        args: [--ip-masq, --kube-subnet-mgr]
        securityContext:
          privileged: false
          capabilities:
            add: [NET_ADMIN, NET_RAW]
        volumeMounts:
        - name: run
          mountPath: /run/flannel
        - name: flannel-cfg
          mountPath: /etc/kube-flannel/
      volumes:
      - name: run
        hostPath:
          path: /run/flannel
      - name: cni-plugin
        hostPath:
          path: /opt/cni/bin
      - name: cni
        hostPath:
          path: /etc/cni/net.d
      - name: flannel-cfg
        configMap:
          name: kube-flannel-cfg
`
}

/** Writes kp.yaml (checked against the schema first) and the CNI stand-in. */
export function writeLabConfig(paths: LabPaths, cluster: string, layout: LabLayout, endpoints: LabEndpoints): void {
  const config = labConfig(cluster, layout, endpoints)
  const checked = parseConfig(config)
  if (!checked.ok) throw new Error(`the lab's kp.yaml does not validate: ${checked.problems.map((p) => p.message).join('; ')}`)
  const text = renderConfig(config, `./${SCHEMA_FILE_NAME}`)
    .replace('written by kp config init.', 'written by kp lab up for the lab; kp lab down --purge removes it.')
  writeFileSync(paths.config, text, {mode: 0o644})
  writeFileSync(paths.cni, cniStandin(checked.config.cluster.podSubnet), {mode: 0o644})
  writeFileSync(path.join(paths.dir, SCHEMA_FILE_NAME), `${JSON.stringify(configJsonSchema(), null, 2)}\n`)
}
