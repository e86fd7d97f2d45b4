/**
 * Facts of certs-rotate: the control planes in the order they are done (kp.yaml's, or as named),
 * their addresses (the API server and etcd member whose served certificates are checked), the run's
 * settings, and — for the etcd backup taken first — etcd-backup's own facts, so its steps run as
 * they are. Nothing here needs the laptop's admin kubeconfig: it may be the very thing that expired.
 */
import {selectNodes} from '../../config/nodes.js'
import type {RunContext, Step, UnitContext} from '../../engine/types.js'
import {RefusedError, UsageError} from '../../errors.js'
import {maintenanceSnapshotName} from '../../vm/maintenance-snapshots.js'
import {flag} from '../node-drain/facts.js'
import {type BackupFacts, type BackupParams, initialFacts as backupFacts} from '../etcd-backup/facts.js'
import {waitOverride} from '../wait-override.js'

export interface RotateParams extends BackupParams {
  /** false: no etcd backup first (default true). */
  backup?: boolean | string
  /** CA rotation: refused (out of scope), pointing to the runbook. */
  ca?: boolean | string
  nodes?: string[] | string
  /** true, false, or undefined for maintenance.snapshotBeforeMaintenance. */
  snapshot?: boolean | string
}

export interface RotateSettings {
  backup: boolean
  /** Proxmox snapshots before each control plane (needs the proxmox section). */
  snapshots: boolean
}

export interface RotateFacts extends BackupFacts {
  /** Control plane → its address (kp.yaml's ip): API server at :6443, etcd member at :2379. */
  addresses: Record<string, string>
  order: string[]
  rotate?: RotateSettings
}

export type RotateContext = RunContext<RotateFacts, RotateParams>
export type RotateUnit = UnitContext<RotateFacts, RotateParams>

export const initialFacts = (): RotateFacts => ({...backupFacts(), addresses: {}, order: []})

/** The static pods of a control plane in the order they are restarted (runbooks/certs-rotate.md says why). */
export const COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const
export type Component = (typeof COMPONENTS)[number]

export const MANIFESTS = '/etc/kubernetes/manifests'
/** Where a manifest waits while the kubelet stops its pod; a resume moves back whatever it finds here. */
export const PARKED = '/etc/kubernetes/kp-restart'

export const RUNBOOK = 'runbooks/certs-rotate.md'

/** KP_ROTATE_WAIT_MS shortens this workflow's waits in tests. */
export const waitMs = (fallback: number): number => waitOverride('KP_ROTATE_WAIT_MS', fallback)

export const targets = (ctx: RotateContext): string[] => ctx.facts.order

export const settingsOf = (ctx: RotateContext): RotateSettings => {
  if (!ctx.facts.rotate) throw new Error('the gather-facts step did not run')
  return ctx.facts.rotate
}

export const addressOf = (ctx: RotateContext, node: string): string => ctx.facts.addresses[node] ?? node

export const snapshotName = (ctx: RotateContext): string => maintenanceSnapshotName('certs', ctx.runId)

function settings(ctx: RotateContext): RotateSettings {
  const {maintenance, proxmox} = ctx.config.config
  const asked = ctx.params.snapshot
  const snapshots = asked === undefined || asked === '' ? maintenance.snapshotBeforeMaintenance && proxmox !== undefined : flag(asked)
  if (snapshots && !proxmox) throw new UsageError('--snapshot needs the proxmox section of kp.yaml', {hint: 'add it, or rotate without snapshots (--no-snapshot)'})
  const backup = ctx.params.backup === undefined || ctx.params.backup === '' ? true : flag(ctx.params.backup)
  return {backup, snapshots}
}

/**
 * Gather facts: read-only, from kp.yaml alone. The control planes (all of them, or those named; a
 * worker is refused), their addresses, the settings; CA rotation refused before anything happens.
 */
export const gatherFacts: Step<RotateFacts, RotateParams> = {
  gathersFacts: true,
  id: 'gather-facts',
  title: 'Gather facts',
  run(ctx) {
    if (flag(ctx.params.ca)) {
      throw new RefusedError('kp does not rotate the certificate authorities (ca, etcd-ca, front-proxy-ca): only the leaf certificates they sign', {
        hint: `${RUNBOOK}#ca-rotation-out-of-scope says how to replace a CA by hand; kp certs rotate renews everything else`,
      })
    }

    const {config} = ctx.config
    const names = (Array.isArray(ctx.params.nodes) ? ctx.params.nodes : String(ctx.params.nodes ?? '').split(',')).map((n) => n.trim()).filter(Boolean)
    const selected = names.length > 0 ? selectNodes(config, names) : config.nodes.filter((n) => n.role === 'control-plane')
    const workers = selected.filter((n) => n.role !== 'control-plane').map((n) => n.name)
    if (workers.length > 0) {
      throw new UsageError(`${workers.join(', ')} ${workers.length === 1 ? 'is a worker' : 'are workers'}: only control planes carry kubeadm's certificates`, {
        hint: `a worker's kubelet rotates its own client certificate (kp certs check shows it); name control planes only: ${config.nodes.filter((n) => n.role === 'control-plane').map((n) => n.name).join(', ')}`,
      })
    }

    if (selected.length === 0) throw new UsageError('kp.yaml has no control plane')
    ctx.facts.rotate = settings(ctx)
    ctx.facts.order = selected.map((n) => n.name)
    ctx.facts.addresses = Object.fromEntries(selected.map((n) => [n.name, n.ip]))
    if (!ctx.facts.rotate.backup) ctx.log('no etcd backup first (--no-backup)')
  },
}
