/**
 * Facts of upgrade-cluster: the target version, the nodes in kubeadm's order (the first control
 * plane, which runs `kubeadm upgrade apply`, then the other control planes, then the workers), each
 * node's role, the run's settings, etcd-backup's own facts (the backup taken first), and — for the
 * node in progress — node-drain's facts, so the drain's own step works on it. The read-only
 * assessment (src/lib/upgrade/assess.ts) decides whether the upgrade may start; what it found is the
 * gather unit's pre-state, so a resume — when the API servers are half-way and the assessment would
 * object to exactly that — goes on with the target and order the run began with.
 */
import type {NodeRole} from '../../config/schema.js'
import type {RunContext, Step, UnitContext} from '../../engine/types.js'
import {RefusedError, UsageError} from '../../errors.js'
import {assessUpgrade} from '../../upgrade/assess.js'
import {maintenanceSnapshotName} from '../../vm/maintenance-snapshots.js'
import {type BackupFacts, initialFacts as backupFacts} from '../etcd-backup/facts.js'
import {workloadsPending} from '../node-patch/cluster.js'
import {drainSettings, flag, initialFacts as drainFacts, type NodeFacts, type NodeParams} from '../node-drain/facts.js'
import {waitOverride} from '../wait-override.js'

export interface UpgradeParams extends NodeParams {
  /** true, false, or undefined for maintenance.snapshotBeforeMaintenance. */
  snapshot?: boolean | string
  /** --to X.Y.Z */
  to?: string
}

export interface UpgradeFacts extends BackupFacts, NodeFacts {
  /** The version the cluster was at when the run began ('1.30.14'). */
  from: string
  order: string[]
  roles: Record<string, NodeRole>
  /** Proxmox snapshots before anything changes (needs the proxmox section). */
  snapshots: boolean
  /** '1.31.2', without the v. */
  target: string
  /** Workloads short before the run: the waits after each node name them instead of timing out on them. */
  unhealthyBefore: string[]
}

/** What the gather unit keeps in the journal: the run's own decisions, for every resume. */
export interface Started extends Record<string, unknown> {
  from: string
  order: string[]
  roles: Record<string, NodeRole>
  target: string
  unhealthyBefore: string[]
}

export type UpgradeContext = RunContext<UpgradeFacts, UpgradeParams>
export type UpgradeUnit = UnitContext<UpgradeFacts, UpgradeParams>

export const RUNBOOK = 'runbooks/upgrade-cluster.md'

export const initialFacts = (): UpgradeFacts => ({...backupFacts(), ...drainFacts(), from: '', order: [], roles: {}, snapshots: false, target: '', unhealthyBefore: []})

/** KP_UPGRADE_WAIT_MS shortens this workflow's waits in tests. */
export const waitMs = (fallback: number): number => waitOverride('KP_UPGRADE_WAIT_MS', fallback)

export const targets = (ctx: UpgradeContext): string[] => ctx.facts.order

export const roleOf = (ctx: UpgradeContext, node: string): NodeRole => ctx.facts.roles[node] ?? 'worker'

/** The control plane that runs `kubeadm upgrade apply`: the first of the order. */
export const isFirst = (ctx: UpgradeContext, node: string): boolean => ctx.facts.order[0] === node

export const snapshotName = (ctx: UpgradeContext): string => maintenanceSnapshotName('upgrade', ctx.runId)

export const VERSION = /^\d+\.\d+\.\d+$/

/** '--to v1.31.2' and '1.31.2' alike; anything else is a usage error. */
export function parseTarget(to: string | undefined): string {
  const text = (to ?? '').trim().replace(/^v/, '')
  if (!VERSION.test(text)) throw new UsageError(`--to must be a Kubernetes version like 1.31.2, not "${to ?? ''}"`, {hint: 'kp upgrade plan lists the versions available'})
  return text
}

function snapshots(ctx: UpgradeContext): boolean {
  const {maintenance, proxmox} = ctx.config.config
  const asked = ctx.params.snapshot
  const on = asked === undefined || asked === '' ? maintenance.snapshotBeforeMaintenance && proxmox !== undefined : flag(asked)
  if (on && !proxmox) throw new UsageError('--snapshot needs the proxmox section of kp.yaml', {hint: 'add it, or upgrade without snapshots (--no-snapshot)'})
  return on
}

/**
 * Gather facts: read-only. kp upgrade plan's assessment with --to; any blocker refuses the run
 * (exit 4) listing every blocker with its fix, nothing changed. A resume goes on with what the
 * first attempt decided (its pre-state), without asking the assessment again.
 */
export const gatherFacts: Step<UpgradeFacts, UpgradeParams> = {
  gathersFacts: true,
  id: 'gather-facts',
  title: 'Gather facts',
  async run(ctx) {
    const target = parseTarget(ctx.params.to)
    ctx.facts.snapshots = snapshots(ctx)
    ctx.facts.settings = drainSettings(ctx)
    const started = ctx.preState as Started | undefined
    if (started) {
      if (started.target !== target) throw new UsageError(`this run upgrades to ${started.target}, not ${target}`)
      Object.assign(ctx.facts, {from: started.from, order: started.order, roles: started.roles, target, unhealthyBefore: started.unhealthyBefore ?? []})
      ctx.log(`resuming the upgrade ${started.from} → ${target}: ${started.order.join(', ')}`)
      return
    }

    // The assessment reads config, kube, ssh, signal and log only: not this workflow's facts.
    const assessment = await assessUpgrade(ctx, {to: target})
    if (assessment.blockers.length > 0) {
      const list = assessment.blockers.map((b) => `${b.node ? `${b.node}: ` : ''}${b.problem} Fix: ${b.fix}`)
      throw new RefusedError(`not upgrading to ${target}; nothing was changed. ${list.length === 1 ? 'One blocker' : `${list.length} blockers`}:\n  - ${list.join('\n  - ')}`, {
        hint: `kp upgrade plan --to ${target} shows them again; fix each, then run kp upgrade cluster --to ${target} again`,
      })
    }

    const roles = Object.fromEntries(assessment.nodes.map((n) => [n.name, n.role]))
    Object.assign(ctx.facts, {from: assessment.current, order: assessment.order, roles, target})
    ctx.facts.unhealthyBefore = (await workloadsPending(await ctx.kube(), ctx.signal)).map((p) => p.key)
    ctx.recordPreState({from: assessment.current, order: assessment.order, roles, target, unhealthyBefore: ctx.facts.unhealthyBefore} satisfies Started)
    ctx.log(`upgrading ${assessment.current} → ${target}: ${assessment.order.join(', ')}`)
  },
}
