/**
 * Does the Kubernetes apt repository of the configured minor carry kubeadm, kubelet and kubectl at
 * exactly cluster.kubernetesVersion? Node preparation pins them to `<version>-*`, so a version the
 * repository lacks (a typo, a patch not yet released, a mirror that lags) would fail on every node
 * after the VMs exist. The repositories are flat, as pkgs.k8s.io lays them out
 * (`<base>/v1.31/deb/Packages`), and so are the lab's.
 */
import {gunzipSync} from 'node:zlib'

import type {KpConfig} from '../config/schema.js'
import {kubernetesAptRepo} from '../config/nodes.js'
import {httpGet} from './http.js'

export const KUBERNETES_PACKAGES = ['kubeadm', 'kubelet', 'kubectl'] as const

export interface PackageCheckOptions {
  fetch?: typeof fetch
  signal?: AbortSignal
  /** Default 20 s. */
  timeoutMs?: number
}

/** pkgs.k8s.io's index of a minor is well under a MiB; a mirror's may hold more. */
const MAX_INDEX_BYTES = 64 * 1024 * 1024

/** A problem naming the versions the repository has, or undefined when all three are there. */
export async function checkPackageVersions(config: KpConfig, options: PackageCheckOptions = {}): Promise<string | undefined> {
  const version = config.cluster.kubernetesVersion.replace(/^v/, '')
  const {repoUrl} = kubernetesAptRepo(config, version)
  const read = await readIndex(repoUrl, version, options)
  if ('problem' in read) return read.problem
  const versions = packageVersions(read.index)
  const missing = KUBERNETES_PACKAGES.filter((pkg) => !(versions.get(pkg) ?? []).some((v) => upstreamOf(v) === version))
  if (missing.length === 0) return undefined
  const available = commonUpstreamVersions(versions)
  const has = available.length > 0 ? `it has ${available.join(', ')}` : 'it has none of them at any version'
  return `cluster.kubernetesVersion ${version}: the Kubernetes apt repository ${repoUrl} has no ${missing.join(', ')} ${version}-* (${has}); set cluster.kubernetesVersion to a version it carries${available.length > 0 ? ` (${available.at(-1)} is the newest)` : ', or check packages.kubernetesRepoBase'}`
}

/** The Packages index (plain, else gzip), or a problem saying why it could not be read. */
export async function readIndex(repoUrl: string, version: string, options: PackageCheckOptions): Promise<{index: string} | {problem: string}> {
  const get = (name: string) => httpGet(`${repoUrl}${name}`, {fetch: options.fetch, maxBytes: MAX_INDEX_BYTES, signal: options.signal, timeoutMs: options.timeoutMs ?? 20_000})
  const unreadable = (why: string) => ({problem: `cannot read the package index of the Kubernetes apt repository ${repoUrl}: ${why}; check packages.kubernetesRepoBase and that this machine reaches it`})
  try {
    const plain = await get('Packages')
    if (plain.ok) return {index: plain.body.toString('utf8')}
    if (plain.status !== 404) return unreadable(`HTTP ${plain.status} for ${repoUrl}Packages`)
    const gz = await get('Packages.gz')
    if (gz.ok) return {index: gunzipSync(gz.body).toString('utf8')}
    if (gz.status !== 404) return unreadable(`HTTP ${gz.status} for ${repoUrl}Packages.gz`)
    return {
      problem: `cluster.kubernetesVersion ${version}: the Kubernetes apt repository ${repoUrl} does not exist (HTTP 404 for its Packages index); pkgs.k8s.io has every minor from 1.24 on, a mirror may not: check packages.kubernetesRepoBase`,
    }
  } catch (error) {
    if (options.signal?.aborted) throw error
    return unreadable(error instanceof Error ? error.message : String(error))
  }
}

/** Package name → every Version the index lists for it (Debian control format, stanzas split by blank lines). */
export function packageVersions(index: string): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const stanza of index.split(/\r?\n\s*\r?\n/)) {
    const name = /^Package:[ \t]*(\S+)/m.exec(stanza)?.[1]
    const version = /^Version:[ \t]*(\S+)/m.exec(stanza)?.[1]
    if (name && version) out.set(name, [...(out.get(name) ?? []), version])
  }

  return out
}

/** `1.31.9-1.1` → `1.31.9` (an epoch `1:` goes too). */
export function upstreamOf(debianVersion: string): string {
  return debianVersion.replace(/^\d+:/, '').replace(/-[^-]*$/, '')
}

/** Upstream versions all three packages have, oldest first. */
export function commonUpstreamVersions(versions: Map<string, string[]>): string[] {
  const sets = KUBERNETES_PACKAGES.map((pkg) => new Set((versions.get(pkg) ?? []).map(upstreamOf)))
  const common = [...sets[0]!].filter((v) => sets.every((s) => s.has(v)))
  const key = (v: string) => v.split(/[.+~-]/).map((part) => (/^\d+$/.test(part) ? part.padStart(8, '0') : part)).join('.')
  return common.sort((a, b) => key(a).localeCompare(key(b)))
}
