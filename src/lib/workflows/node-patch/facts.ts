/**
 * Facts of node-patch: the nodes in the order they are patched (workers first, then the control
 * planes one at a time; --control-planes-first the other way), the run's settings, and — for the
 * node in progress — what node-drain's facts hold (the node, its pods, budgets and plan), so the
 * drain's own functions work on it. What each node needs is its check unit's pre-state (journaled,
 * so a resume knows it), or in a dry run a memo.
 */
import type {RebootPolicy} from '../../apt.js'
import {selectNodes} from '../../config/nodes.js'
import type {NodeRole} from '../../config/schema.js'
import type {RunContext, Step, UnitContext} from '../../engine/types.js'
import {UsageError} from '../../errors.js'
import {maintenanceSnapshotName} from '../../vm/maintenance-snapshots.js'
import {drainSettings, flag, initialFacts as drainFacts, type NodeFacts, type NodeParams} from '../node-drain/facts.js'
import {waitOverride} from '../wait-override.js'

export interface PatchParams extends NodeParams {
  all?: boolean | string
  controlPlanesFirst?: boolean | string
  distUpgrade?: boolean | string
  /** Seconds to wait for a dpkg lock someone else holds (default 120). */
  lockTimeout?: number | string
  nodes?: string[] | string
  /** An instant (ISO 8601, or anything Date parses): no node is started after it. */
  notAfter?: string
  /** if-required, always or never; default maintenance.rebootPolicy. */
  reboot?: string
  /** true, false, or undefined for maintenance.snapshotBeforeMaintenance. */
  snapshot?: boolean | string
}

export interface PatchSettings {
  kind: 'dist-upgrade' | 'upgrade'
  lockSeconds: number
  notAfter?: number
  policy: RebootPolicy
  /** Proxmox snapshots before each node (needs the proxmox section). */
  snapshots: boolean
}

export interface PatchFacts extends NodeFacts {
  order: string[]
  roles: Record<string, NodeRole>
  patch?: PatchSettings
}

/** What the check step decided for a node, kept as its pre-state. */
export interface Verdict extends Record<string, unknown> {
  /** Nothing to install and no reboot to do: every later step of the node skips. */
  idle: boolean
  packages: string[]
  reboot: boolean
  rebootPackages: string[]
  /** A dry run's check would stop the run at this node (a refusal, --not-after). */
  stopped?: boolean
  /**
   * Workloads already short before this node was touched: the wait after it does not hold the
   * rollout hostage to them (it would time out on every node), it names them instead.
   */
  unhealthyBefore?: string[]
}

export type PatchContext = RunContext<PatchFacts, PatchParams>
export type PatchUnit = UnitContext<PatchFacts, PatchParams>

export const initialFacts = (): PatchFacts => ({...drainFacts(), order: [], roles: {}})

export const REBOOT_POLICIES: readonly RebootPolicy[] = ['if-required', 'always', 'never']

/** KP_PATCH_WAIT_MS shortens this workflow's waits in tests. */
export const waitMs = (fallback: number): number => waitOverride('KP_PATCH_WAIT_MS', fallback)

export const targets = (ctx: PatchContext): string[] => ctx.facts.order

export const settingsOf = (ctx: PatchContext): PatchSettings => {
  if (!ctx.facts.patch) throw new Error('the gather-facts step did not run')
  return ctx.facts.patch
}

export const snapshotName = (ctx: PatchContext): string => maintenanceSnapshotName('patch', ctx.runId)

export const roleOf = (ctx: PatchContext, node: string): NodeRole => ctx.facts.roles[node] ?? 'worker'

function parseNotAfter(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined
  const at = Date.parse(value)
  if (Number.isNaN(at)) throw new UsageError(`--not-after must be a time like 2026-12-06T18:00:00+01:00 or "2026-12-06 18:00", not "${value}"`)
  return at
}

function settings(ctx: PatchContext): PatchSettings {
  const {maintenance, proxmox} = ctx.config.config
  const policy = (ctx.params.reboot || maintenance.rebootPolicy) as RebootPolicy
  if (!REBOOT_POLICIES.includes(policy)) throw new UsageError(`--reboot must be one of ${REBOOT_POLICIES.join(', ')}, not "${policy}"`)
  const asked = ctx.params.snapshot
  const snapshots = asked === undefined || asked === '' ? maintenance.snapshotBeforeMaintenance && proxmox !== undefined : flag(asked)
  if (snapshots && !proxmox) throw new UsageError('--snapshot needs the proxmox section of kp.yaml', {hint: 'add it, or patch without snapshots (--no-snapshot)'})
  const lock = Number(ctx.params.lockTimeout ?? 120)
  if (!Number.isInteger(lock) || lock < 0) throw new UsageError(`the dpkg lock timeout must be a whole number of seconds, not "${String(ctx.params.lockTimeout)}"`)
  return {kind: flag(ctx.params.distUpgrade) ? 'dist-upgrade' : 'upgrade', lockSeconds: lock, notAfter: parseNotAfter(ctx.params.notAfter), policy, snapshots}
}

/**
 * Gather facts: read-only. The nodes to patch, in order, each in kp.yaml and in the cluster; the
 * settings, checked before anything changes.
 */
export const gatherFacts: Step<PatchFacts, PatchParams> = {
  gathersFacts: true,
  id: 'gather-facts',
  title: 'Gather facts',
  async run(ctx) {
    const all = flag(ctx.params.all)
    const named = (Array.isArray(ctx.params.nodes) ? ctx.params.nodes : String(ctx.params.nodes ?? '').split(',')).some((n) => n.trim() !== '')
    if (all === named) throw new UsageError(all ? 'name the nodes or give --all, not both' : 'name the nodes to patch, or give --all')
    const selected = selectNodes(ctx.config.config, all ? undefined : ctx.params.nodes)
    ctx.facts.patch = settings(ctx)
    ctx.facts.settings = drainSettings(ctx)
    const kube = await ctx.kube()
    const known = new Set((await kube.listNodes({signal: ctx.signal})).map((n) => n.metadata?.name ?? ''))
    const missing = selected.filter((n) => !known.has(n.name)).map((n) => n.name)
    if (missing.length > 0) {
      throw new UsageError(`${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} in kp.yaml but not in the cluster at ${kube.server}`, {
        hint: 'Has it joined yet? kubectl get nodes lists what the cluster knows.',
      })
    }

    const workers = selected.filter((n) => n.role === 'worker').map((n) => n.name)
    const controlPlanes = selected.filter((n) => n.role === 'control-plane').map((n) => n.name)
    ctx.facts.order = flag(ctx.params.controlPlanesFirst) ? [...controlPlanes, ...workers] : [...workers, ...controlPlanes]
    ctx.facts.roles = Object.fromEntries(selected.map((n) => [n.name, n.role]))
  },
}
