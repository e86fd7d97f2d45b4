import type {KubeNode} from '../../kube/types.js'
import {configSkew, kubeletSkew, parseVersion, type Version} from '../skew.js'
import {type Finding, fromFindings} from '../status.js'
import type {Check} from '../types.js'

const PRESSURE = ['MemoryPressure', 'DiskPressure', 'PIDPressure']

/** What is wrong with one registered node; nothing when it is Ready, schedulable, unpressured and in skew. */
export function nodeFindings(node: KubeNode, apiserver: Version | undefined): Finding[] {
  const name = node.metadata?.name ?? '?'
  const conditions = node.status?.conditions ?? []
  const findings: Finding[] = []
  const ready = conditions.find((c) => c.type === 'Ready')
  if (ready?.status !== 'True') {
    const why = [ready?.reason, ready?.message].filter(Boolean).join(': ')
    findings.push({status: 'CRITICAL', text: `${name} NotReady${why ? ` (${why})` : ''}`})
  }

  // Pressure makes the kubelet evict pods and the scheduler avoid the node: it needs attention, but the node still runs.
  for (const c of conditions) if (PRESSURE.includes(c.type) && c.status === 'True') findings.push({status: 'WARNING', text: `${name} ${c.type}`})
  if (node.spec?.unschedulable) findings.push({status: 'WARNING', text: `${name} cordoned`})
  const kubelet = node.status?.nodeInfo?.kubeletVersion
  const version = kubelet ? parseVersion(kubelet) : undefined
  if (!version) findings.push({status: 'WARNING', text: `${name} reports no kubelet version`})
  else if (apiserver) {
    const skew = kubeletSkew(version, apiserver)
    if (skew.text) findings.push({status: skew.status, text: `${name} ${skew.text}`})
  }

  return findings
}

export const nodesCheck: Check = {
  description: 'Every node of kp.yaml is registered and Ready; no node is cordoned or under memory, disk or PID pressure; kubelet versions within the skew policy; the API server runs kp.yaml\'s kubernetesVersion.',
  name: 'nodes',
  async run({kube, loaded, signal}) {
    const client = await kube()
    const [nodes, version] = await Promise.all([client.listNodes({signal}), client.version({signal})])
    const apiserver = parseVersion(version.gitVersion)
    const findings: Finding[] = []
    if (!apiserver) findings.push({status: 'WARNING', text: `the API server reports an unrecognised version ${version.gitVersion}`})
    else {
      const skew = configSkew(apiserver, loaded.config.cluster.kubernetesVersion)
      if (skew.text) findings.push({status: skew.status, text: skew.text})
    }

    const registered = new Set(nodes.map((n) => n.metadata?.name))
    for (const node of loaded.config.nodes) if (!registered.has(node.name)) findings.push({status: 'CRITICAL', text: `${node.name} is not registered`})
    // Nodes kp.yaml does not list are checked too: a NotReady node is a cluster problem whoever made it.
    for (const node of nodes) findings.push(...nodeFindings(node, apiserver))
    const ready = nodes.length - nodes.filter((n) => n.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True').length
    return fromFindings(findings, `${ready}/${nodes.length} nodes Ready, API server ${version.gitVersion}`)
  },
}
