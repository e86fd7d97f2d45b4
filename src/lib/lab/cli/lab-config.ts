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
}

/** Versions the lab's repositories carry, e.g. 1.30.13 … 1.32.5. */
export function labVersions(): string[] {
  return LAB_RELEASES.flatMap((r) => r.patches)
}

/** What is wrong with a layout, in the words of the flags; undefined when it is fine. */
export function layoutProblem(layout: LabLayout): string | undefined {
  if (!Number.isInteger(layout.nodes) || layout.nodes < 1 || layout.nodes > LAB_MAX_NODES) return `--nodes must be 1 to ${LAB_MAX_NODES}`
  if (!Number.isInteger(layout.controlPlanes) || layout.controlPlanes < 1 || layout.controlPlanes > layout.nodes) return `--control-planes must be 1 to --nodes (${layout.nodes})`
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
      controlPlaneEndpoint: `${nodes[0]!.ip}:6443`,
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
    packages: {kubernetesRepoBase: `${endpoints.repoBaseUrl}/core:/stable:`},
    nodes,
    maintenance: {drainTimeout: '5m', snapshotBeforeMaintenance: true, rebootPolicy: 'if-required'},
    health: {certificateWarnDays: 30, certificateCriticalDays: 7},
  }
}

/** A stand-in CNI manifest: the lab's kubelet only needs one applied (the bootstrap issue). */
const CNI_STANDIN = `# kp lab: a stand-in CNI manifest. The lab's nodes become Ready once a CNI manifest is applied;
# a real cluster uses flannel, Calico or Cilium here.
apiVersion: v1
kind: Namespace
metadata:
  name: kube-flannel
`

/** Writes kp.yaml (checked against the schema first) and the CNI stand-in. */
export function writeLabConfig(paths: LabPaths, cluster: string, layout: LabLayout, endpoints: LabEndpoints): void {
  const config = labConfig(cluster, layout, endpoints)
  const checked = parseConfig(config)
  if (!checked.ok) throw new Error(`the lab's kp.yaml does not validate: ${checked.problems.map((p) => p.message).join('; ')}`)
  const text = renderConfig(config, `./${SCHEMA_FILE_NAME}`)
    .replace('written by kp config init.', 'written by kp lab up for the lab; kp lab down --purge removes it.')
  writeFileSync(paths.config, text, {mode: 0o644})
  writeFileSync(paths.cni, CNI_STANDIN, {mode: 0o644})
  writeFileSync(path.join(paths.dir, SCHEMA_FILE_NAME), `${JSON.stringify(configJsonSchema(), null, 2)}\n`)
}
