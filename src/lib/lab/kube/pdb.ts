/**
 * PodDisruptionBudget status as the disruption controller computes it (pkg/controller/disruption):
 * expectedPods, desiredHealthy, currentHealthy and disruptionsAllowed, from the pods the selector
 * matches and, for percentages and maxUnavailable, the scale of the pods' controllers.
 */
import {fromLabelSelector, matchesLabels} from './selectors.js'
import type {Condition, Pod, PodDisruptionBudget} from './types.js'

/** A pod's controller scale: a key (one per controller) and its desired replicas. */
export type ScaleOf = (pod: Pod) => {key: string; replicas: number} | undefined

export function podReady(pod: Pod): boolean {
  return pod.status?.phase === 'Running' && (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
}

export function pdbSelects(pdb: PodDisruptionBudget, pod: Pod): boolean {
  const requirements = fromLabelSelector(pdb.spec.selector)
  // A PDB without a selector selects nothing (labels.Nothing()); an empty one selects every pod.
  return requirements !== undefined && pod.metadata.namespace === pdb.metadata.namespace && matchesLabels(requirements, pod.metadata.labels)
}

/** `2`, `"2"` or `"50%"` of `total`, rounded up as GetScaledValueFromIntOrPercent(roundUp=true). */
export function scaled(value: number | string, total: number): number {
  if (typeof value === 'number') return value
  const m = /^(\d+)%$/.exec(value)
  if (m) return Math.ceil((Number(m[1]) * total) / 100)
  return Number.parseInt(value, 10) || 0
}

function expectedScale(pods: Pod[], scaleOf: ScaleOf): number {
  const controllers = new Map<string, number>()
  let unowned = 0
  for (const pod of pods) {
    const scale = scaleOf(pod)
    if (scale) controllers.set(scale.key, scale.replicas)
    else unowned++
  }
  return [...controllers.values()].reduce((a, b) => a + b, 0) + unowned
}

export function computePdbStatus(pdb: PodDisruptionBudget, allPods: Pod[], scaleOf: ScaleOf, blocked: boolean, now: string): NonNullable<PodDisruptionBudget['status']> {
  const pods = allPods.filter((p) => pdbSelects(pdb, p))
  const currentHealthy = pods.filter((p) => podReady(p) && !p.metadata.deletionTimestamp).length
  let expectedPods = pods.length
  let desiredHealthy = 0
  const {maxUnavailable, minAvailable} = pdb.spec
  if (maxUnavailable !== undefined) {
    expectedPods = expectedScale(pods, scaleOf)
    desiredHealthy = Math.max(0, expectedPods - scaled(maxUnavailable, expectedPods))
  } else if (typeof minAvailable === 'number' || (typeof minAvailable === 'string' && !minAvailable.endsWith('%'))) {
    desiredHealthy = scaled(minAvailable, 0)
  } else if (minAvailable !== undefined) {
    expectedPods = expectedScale(pods, scaleOf)
    desiredHealthy = scaled(minAvailable, expectedPods)
  }
  let disruptionsAllowed = currentHealthy - desiredHealthy
  if (expectedPods <= 0 || disruptionsAllowed <= 0 || blocked) disruptionsAllowed = 0
  const previous = pdb.status?.conditions?.find((c) => c.type === 'DisruptionAllowed')
  const allowed = disruptionsAllowed > 0
  const condition: Condition = {
    lastTransitionTime: previous && (previous.status === 'True') === allowed ? (previous.lastTransitionTime ?? now) : now,
    message: '',
    reason: allowed ? 'SufficientPods' : 'InsufficientPods',
    status: allowed ? 'True' : 'False',
    type: 'DisruptionAllowed',
  }
  return {
    conditions: [condition],
    currentHealthy,
    desiredHealthy,
    disruptionsAllowed,
    expectedPods,
    observedGeneration: pdb.metadata.generation ?? 1,
  }
}
