/**
 * What a drain does with each pod on the node, decided from data alone (no API calls), so the
 * preflight, the dry run and the drain itself agree, and the rules are unit-tested. The rules are
 * kubectl drain's (staging/src/k8s.io/kubectl/pkg/drain/filters.go), with two differences that
 * come from kp refusing before it changes anything: DaemonSet pods are left in place without a
 * flag (kubectl wants --ignore-daemonsets to say so), and a PodDisruptionBudget that can never
 * allow an eviction (it needs every pod it has) is refused up front instead of timing out later.
 */

/** The parts of a pod the rules read (client-node's V1Pod fits). */
export interface PodLike {
  metadata?: {
    annotations?: Record<string, string>
    deletionTimestamp?: Date | string
    labels?: Record<string, string>
    name?: string
    namespace?: string
    ownerReferences?: Array<{controller?: boolean; kind: string; name: string}>
    uid?: string
  }
  spec?: {volumes?: Array<{emptyDir?: unknown; name?: string}>}
  status?: {phase?: string}
}

export interface SelectorLike {
  matchExpressions?: Array<{key: string; operator: string; values?: string[]}>
  matchLabels?: Record<string, string>
}

/** The parts of a PodDisruptionBudget the rules read (client-node's V1PodDisruptionBudget fits). */
export interface PdbLike {
  metadata?: {name?: string; namespace?: string}
  spec?: {selector?: SelectorLike}
  status?: {currentHealthy: number; desiredHealthy: number; disruptionsAllowed: number; expectedPods: number}
}

export interface DrainOptions {
  /** Delete pods with emptyDir volumes (their data is lost). */
  deleteEmptydirData: boolean
  /** DELETE instead of the Eviction API: PodDisruptionBudgets are not asked. */
  disableEviction: boolean
  /** Delete pods no controller re-creates, and pods whose DaemonSet is gone. */
  force: boolean
  /** Pods already terminating for longer than this (seconds past their deletionTimestamp) are not waited for; 0 waits for all. */
  skipWaitForDeleteTimeoutSeconds: number
}

/** Why a pod cannot be drained as asked, and which flag (if any) would allow it. */
export type Refusal =
  | {kind: 'daemonset-gone'; daemonSet: string}
  | {kind: 'emptydir'}
  | {kind: 'several-pdbs'; pdbs: string[]}
  | {kind: 'pdb'; pdb: string}
  | {kind: 'unmanaged'}

export type PodDecision =
  /** Through the Eviction API (PodDisruptionBudgets are respected); `pdb` covers it. */
  | {action: 'evict'; pdb?: string; warning?: string}
  /** A plain DELETE: finished pods, or every pod with --disable-eviction. */
  | {action: 'delete'; reason: string; warning?: string}
  /** Already terminating: nothing to send, only to wait for. */
  | {action: 'wait'}
  /** Left on the node. */
  | {action: 'skip'; reason: string}
  | {action: 'refuse'; refusals: Refusal[]}

export interface PodEntry {
  decision: PodDecision
  /** `namespace/name` */
  id: string
  pod: PodLike
}

export interface PdbView {
  allowed: number
  currentHealthy: number
  desiredHealthy: number
  expectedPods: number
  /** `namespace/name` */
  id: string
  /** It needs every pod it expects: no eviction can succeed until someone scales up or relaxes it. */
  neverAllows: boolean
}

export interface DrainPlan {
  /** Budgets that cover pods kp will evict, by id. */
  pdbs: Record<string, PdbView>
  pods: PodEntry[]
}

export const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror'

export const podId = (pod: PodLike): string => `${pod.metadata?.namespace ?? 'default'}/${pod.metadata?.name ?? '?'}`
export const pdbId = (pdb: PdbLike): string => `${pdb.metadata?.namespace ?? 'default'}/${pdb.metadata?.name ?? '?'}`

function isFinished(pod: PodLike): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed'
}

function controllerOf(pod: PodLike): {kind: string; name: string} | undefined {
  return pod.metadata?.ownerReferences?.find((r) => r.controller === true)
}

/** Seconds since the pod's deletionTimestamp (negative while its grace period runs); undefined when not terminating. */
export function secondsPastDeletion(pod: PodLike, now: number): number | undefined {
  const stamp = pod.metadata?.deletionTimestamp
  if (stamp === undefined) return undefined
  return (now - new Date(stamp).getTime()) / 1000
}

/** kubectl's shouldSkipPod: terminating for longer than N seconds (N > 0). */
export function terminatingTooLong(pod: PodLike, skipSeconds: number, now: number): boolean {
  const past = secondsPastDeletion(pod, now)
  return skipSeconds > 0 && past !== undefined && Math.floor(past) > skipSeconds
}

/** metav1.LabelSelector semantics: undefined selects nothing, an empty selector selects everything. */
export function selects(selector: SelectorLike | undefined, labels: Record<string, string> = {}): boolean {
  if (!selector) return false
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false
  for (const {key, operator, values = []} of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, key)
    const ok =
      operator === 'In' ? has && values.includes(labels[key]!)
      : operator === 'NotIn' ? !has || !values.includes(labels[key]!)
      : operator === 'Exists' ? has
      : operator === 'DoesNotExist' ? !has
      : false
    if (!ok) return false
  }

  return true
}

export function viewPdb(pdb: PdbLike): PdbView {
  const s = pdb.status ?? {currentHealthy: 0, desiredHealthy: 0, disruptionsAllowed: 0, expectedPods: 0}
  return {
    allowed: s.disruptionsAllowed,
    currentHealthy: s.currentHealthy,
    desiredHealthy: s.desiredHealthy,
    expectedPods: s.expectedPods,
    id: pdbId(pdb),
    // A budget at 0 because pods are starting or unhealthy frees up by itself: kp waits for it.
    neverAllows: s.disruptionsAllowed <= 0 && s.expectedPods > 0 && s.desiredHealthy >= s.expectedPods,
  }
}

function decide(pod: PodLike, budgets: PdbLike[], daemonSets: ReadonlySet<string>, options: DrainOptions, now: number): PodDecision {
  if (pod.metadata?.annotations?.[MIRROR_ANNOTATION] !== undefined) return {action: 'skip', reason: 'mirror pod of a static pod: the kubelet runs it from a file'}
  if (terminatingTooLong(pod, options.skipWaitForDeleteTimeoutSeconds, now)) {
    return {action: 'skip', reason: `terminating for more than ${options.skipWaitForDeleteTimeoutSeconds}s (--skip-wait-for-delete-timeout)`}
  }

  // Finished pods hold nothing a budget counts: a plain delete, whatever owns them.
  if (isFinished(pod)) return {action: 'delete', reason: `finished: ${pod.status?.phase}`}
  const namespace = pod.metadata?.namespace ?? 'default'
  const controller = controllerOf(pod)
  let orphanWarning: string | undefined
  if (controller?.kind === 'DaemonSet') {
    const daemonSet = `${namespace}/${controller.name}`
    // Its DaemonSet tolerates the cordon and would start it again at once.
    if (daemonSets.has(daemonSet)) return {action: 'skip', reason: `managed by DaemonSet ${daemonSet}`}
    if (!options.force) return {action: 'refuse', refusals: [{daemonSet, kind: 'daemonset-gone'}]}
    orphanWarning = `its DaemonSet ${daemonSet} is gone: nothing re-creates it`
  }

  if (pod.metadata?.deletionTimestamp !== undefined) return {action: 'wait'}
  const refusals: Refusal[] = []
  if (!options.deleteEmptydirData && (pod.spec?.volumes ?? []).some((v) => v.emptyDir !== undefined && v.emptyDir !== null)) refusals.push({kind: 'emptydir'})
  if (!controller && !options.force) refusals.push({kind: 'unmanaged'})
  const warning = orphanWarning ?? (controller ? undefined : 'declares no controller: nothing re-creates it')
  if (options.disableEviction) return refusals.length > 0 ? {action: 'refuse', refusals} : {action: 'delete', reason: '--disable-eviction', ...(warning ? {warning} : {})}

  const covering = budgets.filter((b) => (b.metadata?.namespace ?? 'default') === namespace && selects(b.spec?.selector, pod.metadata?.labels))
  // The Eviction API answers 500 for a pod under two budgets, every time.
  if (covering.length > 1) refusals.push({kind: 'several-pdbs', pdbs: covering.map((b) => pdbId(b))})
  if (covering.length === 1 && viewPdb(covering[0]!).neverAllows) refusals.push({kind: 'pdb', pdb: pdbId(covering[0]!)})
  if (refusals.length > 0) return {action: 'refuse', refusals}
  return {action: 'evict', ...(covering[0] ? {pdb: pdbId(covering[0])} : {}), ...(warning ? {warning} : {})}
}

/** Decide for every pod; `daemonSets` holds the `namespace/name` of the DaemonSets that exist. */
export function classifyPods(pods: PodLike[], budgets: PdbLike[], daemonSets: ReadonlySet<string>, options: DrainOptions, now = Date.now()): DrainPlan {
  const entries = pods.map((pod) => ({decision: decide(pod, budgets, daemonSets, options, now), id: podId(pod), pod}))
  const pdbs: Record<string, PdbView> = {}
  for (const b of budgets) {
    const id = pdbId(b)
    if (entries.some((e) => e.decision.action === 'evict' && e.decision.pdb === id)) pdbs[id] = viewPdb(b)
  }

  return {pdbs, pods: entries.sort((a, b) => a.id.localeCompare(b.id))}
}

export const toRemove = (plan: DrainPlan): PodEntry[] => plan.pods.filter((p) => ['delete', 'evict', 'wait'].includes(p.decision.action))
export const refusedPods = (plan: DrainPlan): PodEntry[] => plan.pods.filter((p) => p.decision.action === 'refuse')

export function describePdb(view: PdbView): string {
  return `PodDisruptionBudget ${view.id} allows ${view.allowed} disruption${view.allowed === 1 ? '' : 's'} (needs ${view.desiredHealthy} healthy pod${view.desiredHealthy === 1 ? '' : 's'} and has ${view.currentHealthy})`
}

const REFUSAL_TEXT: Record<Refusal['kind'], string> = {
  'daemonset-gone': 'pods whose DaemonSet is gone, so nothing re-creates them (--force deletes them)',
  emptydir: 'pods with emptyDir volumes, whose data is lost when they go (--delete-emptydir-data evicts them)',
  pdb: 'pods whose PodDisruptionBudget needs every pod it has, so no eviction can succeed (scale the workload up or relax the budget; --disable-eviction bypasses it)',
  'several-pdbs': 'pods covered by more than one PodDisruptionBudget, which the Eviction API refuses (fix the budgets; --disable-eviction bypasses them)',
  unmanaged: 'pods that declare no controller, so nothing re-creates them (--force deletes them)',
}

/**
 * One clause per reason naming every pod, like kubectl's "cannot delete Pods with local storage
 * (use --delete-emptydir-data to override): default/cache-0", then each blocking budget's numbers.
 */
export function describeRefusals(plan: DrainPlan, pdbs: PdbLike[]): string[] {
  const byKind = new Map<Refusal['kind'], string[]>()
  const budgets = new Set<string>()
  for (const entry of refusedPods(plan)) {
    if (entry.decision.action !== 'refuse') continue
    for (const r of entry.decision.refusals) {
      byKind.set(r.kind, [...(byKind.get(r.kind) ?? []), entry.id])
      if (r.kind === 'pdb') budgets.add(r.pdb)
      if (r.kind === 'several-pdbs') for (const p of r.pdbs) budgets.add(p)
    }
  }

  const lines = [...byKind].map(([kind, ids]) => `${REFUSAL_TEXT[kind]}: ${ids.join(', ')}`)
  for (const id of [...budgets].sort()) {
    const pdb = pdbs.find((b) => pdbId(b) === id)
    if (pdb) lines.push(describePdb(viewPdb(pdb)))
  }

  return lines
}

/** The drain's plan as lines for --dry-run: every pod and what happens to it. */
export function describePlan(plan: DrainPlan): string[] {
  const lines: string[] = []
  for (const {decision, id} of plan.pods) {
    switch (decision.action) {
      case 'evict': {
        const pdb = decision.pdb ? plan.pdbs[decision.pdb] : undefined
        const note = [pdb ? describePdb(pdb) + (pdb.allowed <= 0 ? ': kp retries until it allows one or the timeout' : '') : undefined, decision.warning].filter(Boolean).join('; ')
        lines.push(`evict ${id}${note ? ` (${note})` : ''}`)
        break
      }

      case 'delete':
        lines.push(`delete ${id} (${[decision.reason, decision.warning].filter(Boolean).join('; ')})`)
        break
      case 'wait':
        lines.push(`wait for ${id} to finish terminating`)
        break
      case 'skip':
        lines.push(`leave ${id} in place (${decision.reason})`)
        break
      case 'refuse':
        break
    }
  }

  return lines
}
