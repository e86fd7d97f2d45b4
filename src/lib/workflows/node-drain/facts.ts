/**
 * Facts shared by cordon, uncordon and drain: the node, which must be in kp.yaml and in the cluster; for a drain also its pods, the PodDisruptionBudgets and the
 * DaemonSets, and what the drain would do with each pod (classify.ts).
 */
import {selectNodes} from '../../config/nodes.js'
import {parseDuration} from '../../config/duration.js'
import type {RunContext, Step, UnitContext} from '../../engine/types.js'
import {UsageError} from '../../errors.js'
import type {KubeNode, KubePdb, KubePod} from '../../kube/types.js'
import {classifyPods, type DrainOptions, type DrainPlan} from './classify.js'

/** What the commands pass (and `kp run node-drain --param key=value`, hence the strings). */
export interface NodeParams extends Record<string, unknown> {
  deleteEmptydirData?: boolean | string
  disableEviction?: boolean | string
  force?: boolean | string
  /** Seconds; default maintenance.gracePeriod, else each pod's own. */
  gracePeriod?: number | string
  node?: string
  podSelector?: string
  skipWaitForDeleteTimeout?: number | string
  /** A duration (`90s`, `10m`) or seconds; default maintenance.drainTimeout. */
  timeout?: string
}

export interface DrainSettings extends DrainOptions {
  gracePeriodSeconds?: number
  podSelector?: string
  timeoutMs: number
}

export interface NodeFacts {
  daemonSets: Set<string>
  /** The node as the gather step found it: `spec.unschedulable` is its state before this attempt. */
  node?: KubeNode
  pdbs: KubePdb[]
  plan?: DrainPlan
  pods: KubePod[]
  settings?: DrainSettings
}

export type NodeContext = RunContext<NodeFacts, NodeParams>

export const initialFacts = (): NodeFacts => ({daemonSets: new Set(), pdbs: [], pods: []})

/** The unit's target when there is one (node-patch drains each node of its rolling group), else --node. */
export function nodeName(ctx: NodeContext): string {
  const target = (ctx as Partial<UnitContext<NodeFacts, NodeParams>>).target
  if (target) return target
  if (!ctx.params.node) throw new UsageError('name the node')
  return ctx.params.node
}

export const targets = (ctx: NodeContext): string[] => [nodeName(ctx)]

export const isCordoned = (node: KubeNode | undefined): boolean => node?.spec?.unschedulable === true

export const flag = (value: unknown): boolean => value === true || value === 'true' || value === '1'

function seconds(value: number | string | undefined, what: string): number | undefined {
  if (value === undefined || value === '') return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${what} must be a whole number of seconds, not "${value}"`)
  return n
}

/** The operator's flags over kp.yaml's maintenance section; usage errors before anything changes. */
export function drainSettings(ctx: NodeContext): DrainSettings {
  const {maintenance} = ctx.config.config
  const timeoutText = ctx.params.timeout ?? maintenance.drainTimeout
  const timeoutMs = /^\d+$/.test(timeoutText) ? Number(timeoutText) * 1000 : parseDuration(timeoutText)
  if (!timeoutMs) throw new UsageError(`--timeout must be a duration longer than 0 like 90s or 10m, not "${timeoutText}"`)
  const configured = maintenance.gracePeriod === undefined ? undefined : Math.round((parseDuration(maintenance.gracePeriod) ?? 0) / 1000)
  return {
    deleteEmptydirData: flag(ctx.params.deleteEmptydirData),
    disableEviction: flag(ctx.params.disableEviction),
    force: flag(ctx.params.force),
    gracePeriodSeconds: seconds(ctx.params.gracePeriod, '--grace-period') ?? configured,
    podSelector: ctx.params.podSelector || undefined,
    skipWaitForDeleteTimeoutSeconds: seconds(ctx.params.skipWaitForDeleteTimeout, '--skip-wait-for-delete-timeout') ?? 0,
    timeoutMs,
  }
}

/**
 * The node's pods classified, with the PodDisruptionBudgets and the DaemonSets the rules need.
 * Looking again (after the cordon) lists only the pods, and the DaemonSets when one is new.
 */
export async function surveyPods(ctx: NodeContext, settings: DrainSettings, again = false): Promise<void> {
  const kube = await ctx.kube()
  const call = {signal: ctx.signal}
  const [pods, pdbs] = await Promise.all([
    kube.listPods({fieldSelector: `spec.nodeName=${nodeName(ctx)}`, labelSelector: settings.podSelector}, call),
    again || settings.disableEviction ? Promise.resolve(ctx.facts.pdbs) : kube.listPdbs(call),
  ])
  const owners = pods.flatMap((p) => (p.metadata?.ownerReferences ?? []).filter((r) => r.controller && r.kind === 'DaemonSet').map((r) => `${p.metadata?.namespace ?? 'default'}/${r.name}`))
  if (owners.some((o) => !ctx.facts.daemonSets.has(o))) {
    const daemonSets = await kube.listDaemonSets(call)
    ctx.facts.daemonSets = new Set(daemonSets.map((d) => `${d.metadata?.namespace ?? 'default'}/${d.metadata?.name ?? ''}`))
  }

  ctx.facts.pods = pods
  ctx.facts.pdbs = pdbs
  ctx.facts.plan = classifyPods(pods, pdbs, ctx.facts.daemonSets, settings)
}

/** Gather facts: read-only; connects, finds the node in kp.yaml and in the cluster, and (for a drain) surveys its pods. */
export function gatherNode(options: {pods: boolean}): Step<NodeFacts, NodeParams> {
  return {
    gathersFacts: true,
    id: 'gather-facts',
    title: 'Gather facts',
    async run(ctx) {
      const name = nodeName(ctx)
      selectNodes(ctx.config.config, [name])
      if (options.pods) ctx.facts.settings = drainSettings(ctx)
      const kube = await ctx.kube()
      const node = await kube.getNode(name, {signal: ctx.signal})
      if (!node) {
        const known = (await kube.listNodes({signal: ctx.signal})).map((n) => n.metadata?.name ?? '?')
        throw new UsageError(`node ${name} is in kp.yaml but not in the cluster at ${kube.server}; its nodes are ${known.join(', ') || 'none'}`, {
          hint: 'Has it joined yet? kubectl get nodes lists what the cluster knows.',
        })
      }

      ctx.facts.node = node
      if (options.pods) await surveyPods(ctx, ctx.facts.settings!)
    },
  }
}

/**
 * Gather the node's facts, for a rolling workflow (node-patch, upgrade-cluster): read-only, first in
 * each node's turn and again when a resume comes back to the node in progress — the node as the API
 * has it and its pods classified by the drain's rules, so the steps after it and their dry run see
 * this node as it is now.
 */
export function gatherRollingNode<F extends NodeFacts, P extends NodeParams>(targets: (ctx: RunContext<F, P>) => string[]): Step<F, P> {
  return {
    gathersFacts: true,
    id: 'node-facts',
    rolling: true,
    title: "Gather the node's facts",
    targets,
    async run(ctx) {
      const name = ctx.target!
      const node = await (await ctx.kube()).getNode(name, {signal: ctx.signal})
      if (!node) throw new UsageError(`node ${name} is no longer in the cluster`, {hint: 'kubectl get nodes lists what the cluster knows'})
      ctx.facts.node = node
      await surveyPods(ctx, ctx.facts.settings!)
    },
  }
}
