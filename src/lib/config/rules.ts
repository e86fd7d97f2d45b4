/**
 * Rules that need more than one key: unique nodes, addresses inside the node network, etcd quorum.
 * They run on whichever sections (and nodes) are valid on their own, so one file shows every
 * problem at once instead of one per attempt.
 */
import {contains, formatSubnet, ipv4ToInt, overlaps, parseCidr, subnetOf, type Subnet} from './net.js'
import type {Problem} from './problems.js'
import type {ClusterConfig, NetworkConfig, NodeConfig, ProxmoxConfig} from './schema.js'

export interface ValidSections {
  cluster?: ClusterConfig
  network?: NetworkConfig
  /** The nodes that are valid on their own, with their index in the file. */
  nodes: Array<{index: number; node: NodeConfig}>
  /** Every node is valid, so counting roles means something. */
  allNodesValid: boolean
  proxmox?: ProxmoxConfig
}

/** kubeadm's preflight checks refuse a control plane with less. */
const CONTROL_PLANE_MIN_CORES = 2
const CONTROL_PLANE_MIN_MEMORY_MIB = 1700

export function crossFieldProblems(sections: ValidSections): Problem[] {
  return [...nodeProblems(sections), ...networkProblems(sections), ...subnetProblems(sections)]
}

function nodeProblems({allNodesValid, nodes, proxmox}: ValidSections): Problem[] {
  const problems: Problem[] = []
  for (const key of ['name', 'vmid', 'ip'] as const) {
    const first = new Map<string, number>()
    for (const {index, node} of nodes) {
      const value = String(node[key])
      const earlier = first.get(value)
      if (earlier === undefined) first.set(value, index)
      else problems.push({message: `duplicate ${key === 'name' ? 'node name' : key === 'vmid' ? 'VMID' : 'IP address'} ${value} (also nodes[${earlier}].${key})`, path: ['nodes', index, key]})
    }
  }

  for (const {index, node} of nodes) {
    if (proxmox && node.vmid === proxmox.templateVmid) problems.push({message: `${node.vmid} is proxmox.templateVmid, the template the nodes are cloned from`, path: ['nodes', index, 'vmid']})
    if (node.role !== 'control-plane') continue
    if (node.cores < CONTROL_PLANE_MIN_CORES) problems.push({message: `a control plane needs at least ${CONTROL_PLANE_MIN_CORES} cores (kubeadm's preflight check)`, path: ['nodes', index, 'cores']})
    if (node.memoryMiB < CONTROL_PLANE_MIN_MEMORY_MIB) problems.push({message: `a control plane needs at least ${CONTROL_PLANE_MIN_MEMORY_MIB} MiB (kubeadm's preflight check)`, path: ['nodes', index, 'memoryMiB']})
  }

  if (allNodesValid && nodes.length > 0) {
    const controlPlanes = nodes.filter(({node}) => node.role === 'control-plane').length
    if (controlPlanes === 0) {
      problems.push({message: 'needs at least one node with role: control-plane', path: ['nodes']})
    } else if (controlPlanes % 2 === 0) {
      problems.push({
        message: `${controlPlanes} control-plane nodes: etcd needs a majority, so an even number tolerates no more failures than one fewer (${controlPlanes} survive ${controlPlanes / 2 - 1} failure${controlPlanes === 4 ? '' : 's'}); use 1, 3 or 5`,
        path: ['nodes'],
      })
    }
  }

  return problems
}

function networkProblems({network, nodes}: ValidSections): Problem[] {
  if (!network) return []
  const problems: Problem[] = []
  const subnet = subnetOf(network.gateway, network.prefix)
  const where = `${formatSubnet(subnet)} (network.gateway/network.prefix)`
  const special = (ip: string): string | undefined => {
    // /31 and /32 have no network or broadcast address to avoid.
    if (network.prefix >= 31) return undefined
    if (ipv4ToInt(ip) === subnet.first) return `is the network address of ${formatSubnet(subnet)}`
    if (ipv4ToInt(ip) === subnet.last) return `is the broadcast address of ${formatSubnet(subnet)}`
    return undefined
  }

  const gatewayProblem = special(network.gateway)
  if (gatewayProblem) problems.push({message: gatewayProblem, path: ['network', 'gateway']})
  for (const {index, node} of nodes) {
    const path = ['nodes', index, 'ip']
    if (!contains(subnet, node.ip)) problems.push({message: `${node.ip} is outside the node network ${where}`, path})
    else if (node.ip === network.gateway) problems.push({message: `${node.ip} is network.gateway`, path})
    else {
      const problem = special(node.ip)
      if (problem) problems.push({message: problem, path})
    }
  }

  return problems
}

function subnetProblems({cluster, network}: ValidSections): Problem[] {
  if (!cluster) return []
  const problems: Problem[] = []
  const pod = parseCidr(cluster.podSubnet)
  const service = parseCidr(cluster.serviceSubnet)
  const overlap = (a: Subnet | undefined, b: Subnet | undefined) => a !== undefined && b !== undefined && overlaps(a, b)
  if (overlap(pod, service)) problems.push({message: `overlaps cluster.serviceSubnet ${cluster.serviceSubnet}`, path: ['cluster', 'podSubnet']})
  if (network) {
    const nodes = subnetOf(network.gateway, network.prefix)
    const what = `the node network ${formatSubnet(nodes)}: pods and services would shadow the nodes' own addresses`
    if (overlap(pod, nodes)) problems.push({message: `overlaps ${what}`, path: ['cluster', 'podSubnet']})
    if (overlap(service, nodes)) problems.push({message: `overlaps ${what}`, path: ['cluster', 'serviceSubnet']})
  }

  return problems
}
