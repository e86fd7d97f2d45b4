/**
 * Facts and node-side helpers of etcd-restore: the snapshot and its sidecar, and every control
 * plane's etcd member as its manifest names it. etcdctl runs inside the node's etcd container
 * (`crictl exec`), whose /var/lib/etcd and /etc/kubernetes/pki/etcd are the host's own folders.
 */
import type {RunContext, UnitContext} from '../../engine/types.js'
import {etcdctlError, runEtcdctl} from '../../etcd/etcdctl.js'
import type {SshSession} from '../../ssh/types.js'

export interface RestoreParams extends Record<string, unknown> {
  /** The snapshot on the laptop (`kp backup etcd` wrote it, with FILE.json beside it). */
  file: string
  /** Names the files and folders of this restore on the nodes (`kp-restore-<UTC time>`), fixed at the start so a resume finds them. */
  tag: string
}

export interface RestoreMember {
  /** The kp.yaml node. */
  node: string
  /** etcd's --name (kubeadm: the node name). */
  name: string
  peerUrl: string
}

export interface RestoreFacts {
  members: RestoreMember[]
  snapshot: {cluster: string; node: string; revision?: number; sha256: string; size: number}
}

export type RestoreContext = RunContext<RestoreFacts, RestoreParams>
export type RestoreUnit = UnitContext<RestoreFacts, RestoreParams>

export const initialFacts = (): RestoreFacts => ({members: [], snapshot: {cluster: '', node: '', sha256: '', size: 0}})

export const targets = (ctx: RestoreContext): string[] => ctx.facts.members.map((m) => m.node)

export const MANIFESTS = '/etc/kubernetes/manifests'
export const CONTROL_PLANE_PODS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const

/** Where this restore keeps the manifests it took out: beside the manifest folder, never inside it (the kubelet would run them). */
export const parkedDir = (tag: string): string => `/etc/kubernetes/${tag}`
export const snapshotOnNode = (tag: string): string => `/var/lib/etcd/${tag}.db`
export const restoredDir = (tag: string): string => `/var/lib/etcd/${tag}`
export const oldDataDir = (tag: string): string => `/var/lib/etcd-before-${tag.replace(/^kp-/, '')}`

export function memberOf(ctx: RestoreContext, node: string | undefined): RestoreMember {
  const member = ctx.facts.members.find((m) => m.node === node)
  if (!member) throw new Error(`no control plane ${node ?? '(none)'} in this run`)
  return member
}

export const initialCluster = (members: readonly RestoreMember[]): string => members.map((m) => `${m.name}=${m.peerUrl}`).join(',')

/** A root command on the node whose exit code is the answer (0 yes, 1 no). */
export async function test(session: SshSession, argv: string[], signal: AbortSignal): Promise<boolean> {
  const {code} = await session.exec(argv, {allowFailure: true, idempotent: true, signal, sudo: true})
  return code === 0
}

/** The running containers whose name matches, as `crictl ps --name` (a regex) lists them. */
export async function runningContainers(session: SshSession, name: string, signal: AbortSignal): Promise<string[]> {
  const {stdout} = await session.exec(['crictl', 'ps', '--name', name, '--state', 'Running', '-q'], {idempotent: true, signal, sudo: true})
  return stdout.split('\n').map((l) => l.trim()).filter(Boolean)
}

/** Poll until `done` says yes; `what` names the wait in the error. */
export async function waitFor(ctx: RestoreUnit, what: string, done: () => Promise<boolean>, timeoutMs = 180_000, everyMs = 1000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await done()) return
    if (Date.now() > deadline) throw new Error(`${what}: still not so after ${Math.round(timeoutMs / 1000)} s`)
    ctx.signal.throwIfAborted()
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

/** The node's etcdctl (in its running etcd container); its output, or an error naming the node and etcdctl's complaint. */
export async function etcdctl(session: SshSession, args: string[], signal: AbortSignal, options: {idempotent?: boolean; timeoutMs?: number} = {}): Promise<string> {
  const result = await runEtcdctl(session, args, {idempotent: options.idempotent, signal, timeoutMs: options.timeoutMs})
  if (result.code !== 0) throw new Error(`etcdctl ${args[0] ?? ''} ${args[1] ?? ''} on ${session.target.name}: ${etcdctlError(result)}`.replace(/ +:/, ':'))
  return result.stdout
}
