/**
 * The targets an upgrade can go to: the versions of kubeadm, kubelet and kubectl (all three) in the
 * Kubernetes apt repository of the current minor and of the next one, as node preparation derives
 * their URLs from kp.yaml's packages.* (pkgs.k8s.io's flat `<base>/v1.31/deb/Packages` layout).
 */
import type {KpConfig} from '../config/schema.js'
import {kubernetesAptRepo} from '../config/nodes.js'
import {commonUpstreamVersions, packageVersions, readIndex} from '../preflight/packages.js'
import {compareVersions, minorOf, nextMinor} from './guards.js'

export interface Available {
  /** Ascending, both minors. */
  versions: string[]
  /** Minor → why its index could not be read; a next minor the repository does not have (404) is not a problem. */
  unreadable: Record<string, string>
}

export async function availableVersions(config: KpConfig, current: string, options: {fetch?: typeof fetch; signal?: AbortSignal} = {}): Promise<Available> {
  const minors = [minorOf(current), nextMinor(current)]
  const reads = await Promise.all(minors.map(async (minor) => ({minor, read: await readIndex(kubernetesAptRepo(config, `${minor}.0`).repoUrl, `${minor}.x`, options)})))
  const versions: string[] = []
  const unreadable: Record<string, string> = {}
  for (const {minor, read} of reads) {
    if ('index' in read) versions.push(...commonUpstreamVersions(packageVersions(read.index)).filter((v) => minorOf(v) === minor))
    else if (minor === minorOf(current) || !read.problem.includes('HTTP 404')) unreadable[minor] = read.problem.replace(/^cluster\.kubernetesVersion [^:]*: /, '')
  }

  return {unreadable, versions: versions.sort(compareVersions)}
}

/** No --to: the newest patch of the next minor, else a newer patch of the current one, else nothing to upgrade to. */
export function defaultTarget(current: string, available: readonly string[]): string | undefined {
  const newer = available.filter((v) => compareVersions(v, current) > 0)
  const next = newer.filter((v) => minorOf(v) === nextMinor(current))
  return (next.length > 0 ? next : newer).at(-1)
}
