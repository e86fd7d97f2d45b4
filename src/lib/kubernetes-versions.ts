/** Facts about Kubernetes releases that kp needs before a cluster exists. */

/** The pause (sandbox) image kubeadm expects per minor (`kubeadm config images list`). */
const PAUSE: Record<string, string> = {'1.28': '3.9', '1.29': '3.9', '1.30': '3.9', '1.31': '3.10', '1.32': '3.10', '1.33': '3.10'}

export function minorOf(version: string): string {
  return version.replace(/^v/, '').split('.').slice(0, 2).join('.')
}

export function pauseImage(version: string): string {
  return `registry.k8s.io/pause:${PAUSE[minorOf(version)] ?? '3.10'}`
}
