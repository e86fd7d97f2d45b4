/**
 * The Kubernetes versions kp bootstraps: the minors its kubeadm configuration rendering (v1beta3
 * before 1.31, v1beta4 from it), node preparation and checks are written and tested for. Older
 * minors are out of upstream support; a newer one may need changes kp does not know about yet.
 */
import {minorOf} from '../kubernetes-versions.js'

export const SUPPORTED_MINORS: readonly string[] = ['1.30', '1.31', '1.32', '1.33']

/** A problem with cluster.kubernetesVersion, or undefined when kp can bootstrap it. */
export function checkKubernetesVersion(version: string): string | undefined {
  const value = `cluster.kubernetesVersion ${version}`
  const window = `kp bootstraps ${SUPPORTED_MINORS[0]} to ${SUPPORTED_MINORS.at(-1)}`
  const choose = `choose one of ${SUPPORTED_MINORS.map((m) => `${m}.x`).join(', ')} (the newest patch release of a minor is best)`
  if (!/^v?\d+\.\d+\.\d+$/.test(version)) return `${value} is not a version X.Y.Z like 1.31.4: ${choose}`
  const minor = minorOf(version)
  if (SUPPORTED_MINORS.includes(minor)) return undefined
  const [major, minorNumber] = minor.split('.').map(Number) as [number, number]
  const [lastMajor, lastMinor] = SUPPORTED_MINORS.at(-1)!.split('.').map(Number) as [number, number]
  const newer = major > lastMajor || (major === lastMajor && minorNumber > lastMinor)
  return `${value} is not supported: ${window}${newer ? ` (${minor} is newer than this kp knows)` : ''}; ${choose}`
}
