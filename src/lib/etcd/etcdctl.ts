/**
 * etcdctl on a kubeadm control plane. kubeadm runs etcd as a static pod and etcdctl ships only in
 * its image, so kp runs it inside the running etcd container: `crictl ps --name '^etcd$' --state
 * Running -q` finds the container (the first id), `crictl exec ID etcdctl …` runs it there with
 * the healthcheck-client certificate kubeadm mounts into the pod from /etc/kubernetes/pki/etcd.
 * Files etcdctl writes go under /var/lib/etcd, kubeadm's hostPath mount: the same path on the
 * host, where sha256sum, cat and rm reach them. Both commands run as root (sudo -n), as every kp
 * workflow does on a node.
 *
 * One remote shell does both: the etcdctl arguments travel as positional parameters ("$@"), each
 * word quoted by the SSH adapter, so nothing in them is ever parsed by a shell.
 */
import type {ExecOptions, ExecResult, SshSession} from '../ssh/types.js'

export const ETCD_PKI = '/etc/kubernetes/pki/etcd'
/** kubeadm's hostPath mount for etcd's data: visible at the same path inside the container and on the host. */
export const ETCD_DATA_DIR = '/var/lib/etcd'

/** The flags every call carries: the member on this node, over TLS, as kubeadm's health-check client. */
export const ETCDCTL_FLAGS = [
  '--endpoints=https://127.0.0.1:2379',
  `--cacert=${ETCD_PKI}/ca.crt`,
  `--cert=${ETCD_PKI}/healthcheck-client.crt`,
  `--key=${ETCD_PKI}/healthcheck-client.key`,
] as const

/** The script's exit status when no etcd container is running: that member's etcd is down. */
export const NO_ETCD_CONTAINER = 97

const SCRIPT = [
  `id=$(crictl ps --name '^etcd$' --state Running -q | head -n 1)`,
  `if [ -z "$id" ]; then echo 'kp: no running etcd container (crictl ps --name ^etcd$ --state Running)' >&2; exit ${NO_ETCD_CONTAINER}; fi`,
  'export ETCDCTL_API=3',
  'exec crictl exec "$id" etcdctl "$@"',
].join('; ')

/** The argv (for the SSH adapter, which quotes each word) that runs `etcdctl ARGS` in the node's etcd container. */
export function etcdctlCommand(args: readonly string[]): string[] {
  return ['sh', '-c', SCRIPT, 'kp-etcdctl', ...ETCDCTL_FLAGS, ...args]
}

export interface EtcdctlResult extends ExecResult {
  /** No etcd container runs on the node (crictl found none). */
  noContainer: boolean
}

/** Run etcdctl on the node; a non-zero exit is returned, not thrown, so the caller can say what it means. */
export async function runEtcdctl(session: SshSession, args: readonly string[], options: Omit<ExecOptions, 'allowFailure' | 'sudo'> = {}): Promise<EtcdctlResult> {
  const result = await session.exec(etcdctlCommand(args), {...options, allowFailure: true, sudo: true})
  return {...result, noContainer: result.code === NO_ETCD_CONTAINER}
}

/** The last line etcdctl wrote on stderr that says something (its "Error: …" line when there is one). */
export function etcdctlError(result: Pick<ExecResult, 'code' | 'stderr'>): string {
  const lines = result.stderr.split('\n').map((l) => l.trim()).filter(Boolean)
  const error = lines.findLast((l) => l.startsWith('Error:') || l.startsWith('kp:') || l.startsWith('Failed'))
  return (error ?? lines.at(-1) ?? `exit ${result.code}`).replace(/^Error:\s*/, '')
}
