/**
 * What runs now, read-only: each node of kp.yaml with its Ready condition and kubelet version (the
 * API), each control plane's static pods' image tags (their mirror pods in kube-system, by the
 * `component` label kubeadm sets), and the kubeadm package on each node (dpkg over SSH).
 */
import {errorMessage} from '../errors.js'
import type {KpConfig} from '../config/schema.js'
import type {KubeNode, KubePod} from '../kube/types.js'
import type {SshSession} from '../ssh/types.js'
import {upstreamOf} from '../preflight/packages.js'
import type {ComponentName, NodeVersions} from './assess.js'

export const COMPONENT_NAMES: readonly ComponentName[] = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'etcd']

/** `registry.k8s.io/kube-apiserver:v1.30.14` → `1.30.14`; `…/etcd:3.5.15-0` → `3.5.15-0`; a digest is dropped. */
export function imageTag(image: string | undefined): string | undefined {
  const tag = /:([^:/@]+)(@.*)?$/.exec(image ?? '')?.[1]
  return tag?.replace(/^v(?=\d)/, '')
}

/** One NodeVersions per node of kp.yaml, in its order, from the API's nodes and the control planes' mirror pods. */
export function nodeVersions(config: KpConfig, apiNodes: readonly KubeNode[], pods: readonly KubePod[]): NodeVersions[] {
  return config.nodes.map((node) => {
    const api = apiNodes.find((n) => n.metadata?.name === node.name)
    const ready = api?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false
    const kubelet = api?.status?.nodeInfo?.kubeletVersion?.replace(/^v/, '')
    const components: NodeVersions['components'] = {}
    for (const pod of pods.filter((p) => p.spec?.nodeName === node.name)) {
      const component = pod.metadata?.labels?.component as ComponentName | undefined
      const container = pod.spec?.containers?.find((c) => c.name === component) ?? pod.spec?.containers?.[0]
      const tag = imageTag(container?.image)
      if (component && COMPONENT_NAMES.includes(component) && tag) components[component] = tag
    }

    return {components, ip: node.ip, name: node.name, ready, role: node.role, ...(kubelet ? {kubelet} : {})}
  })
}

/** The installed kubeadm's upstream version, or why kp could not read it (through sudo, as node-state reads the packages). */
export async function readKubeadm(session: () => Promise<SshSession>, signal?: AbortSignal): Promise<{kubeadm?: string; error?: string}> {
  try {
    const result = await (await session()).exec(['dpkg-query', '-W', '-f=${Version}', 'kubeadm'], {allowFailure: true, idempotent: true, sudo: true, ...(signal ? {signal} : {})})
    if (result.code !== 0) return {error: `kubeadm is not installed (dpkg-query: ${(result.stderr || result.stdout).trim().split('\n')[0]})`}
    const version = upstreamOf(result.stdout.trim())
    return version ? {kubeadm: version} : {error: 'dpkg-query printed no kubeadm version'}
  } catch (error) {
    if (signal?.aborted) throw error
    return {error: errorMessage(error).split('\n')[0]!}
  }
}
