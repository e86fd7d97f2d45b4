/**
 * Kubelet version skew, after the Kubernetes version skew policy: a kubelet must not be newer than
 * the API server and may be up to three minors older (since 1.28; two before). kp upgrades every
 * node to the control plane's minor, so an older minor that is still supported means an unfinished
 * upgrade: a warning, not a failure. Patch releases within one minor may be mixed.
 */
import type {Status} from './status.js'

export interface Version {
  major: number
  minor: number
  patch: number
}

/** `v1.31.8`, `1.31.8`, `v1.31.8+k3s1` → 1.31.8; undefined when it is not a version. */
export function parseVersion(text: string): Version | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(text.trim())
  return m ? {major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3])} : undefined
}

export function formatVersion(v: Version): string {
  return `v${v.major}.${v.minor}.${v.patch}`
}

/** The oldest kubelet minor the policy supports behind the API server. */
export const MAX_KUBELET_MINORS_BEHIND = 3

export function kubeletSkew(kubelet: Version, apiserver: Version): {status: Status; text?: string} {
  const behind = (apiserver.major - kubelet.major) * 1000 + apiserver.minor - kubelet.minor
  const k = formatVersion(kubelet)
  const a = formatVersion(apiserver)
  if (behind < 0) return {status: 'CRITICAL', text: `kubelet ${k} is newer than the API server ${a} (unsupported)`}
  if (behind > MAX_KUBELET_MINORS_BEHIND) return {status: 'CRITICAL', text: `kubelet ${k} is ${behind} minors behind the API server ${a} (at most ${MAX_KUBELET_MINORS_BEHIND} are supported)`}
  if (behind > 0) return {status: 'WARNING', text: `kubelet ${k} is ${behind} minor${behind === 1 ? '' : 's'} behind the API server ${a} (supported; the upgrade is unfinished)`}
  return {status: 'OK'}
}

/** The API server against kp.yaml's cluster.kubernetesVersion: any difference means one of them is out of date. */
export function configSkew(apiserver: Version, configured: string): {status: Status; text?: string} {
  const want = parseVersion(configured)
  if (!want || (want.major === apiserver.major && want.minor === apiserver.minor && want.patch === apiserver.patch)) return {status: 'OK'}
  return {status: 'WARNING', text: `the API server runs ${formatVersion(apiserver)} but kp.yaml says ${configured} (cluster.kubernetesVersion)`}
}
