/**
 * Has a workload rolled out? kubectl rollout status's logic
 * (staging/src/k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go) as a pure function of the
 * object, so a caller polls getObject and asks this. No client-node import: safe to load anywhere.
 */
import type {KubernetesObject} from './types.js'

export interface RolloutState {
  done: boolean
  /** Will not finish by waiting (a Deployment past its progress deadline). */
  failed?: boolean
  /** kubectl's words: `Waiting for daemon set "x" rollout to finish: 1 of 3 updated pods are available...`. */
  message: string
}

interface Workload extends KubernetesObject {
  spec?: {replicas?: number; updateStrategy?: {type?: string}}
  status?: {
    availableReplicas?: number
    conditions?: Array<{reason?: string; type?: string}>
    desiredNumberScheduled?: number
    numberAvailable?: number
    observedGeneration?: number
    replicas?: number
    updatedNumberScheduled?: number
    updatedReplicas?: number
  }
}

export function rolloutState(object: KubernetesObject): RolloutState {
  const w = object as Workload
  const name = w.metadata?.name ?? ''
  const status = w.status ?? {}
  const observed = (w.metadata?.generation ?? 0) <= (status.observedGeneration ?? 0)
  if (w.kind === 'Deployment') {
    if (!observed) return {done: false, message: 'Waiting for deployment spec update to be observed...'}
    if (status.conditions?.some((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded')) {
      return {done: false, failed: true, message: `deployment "${name}" exceeded its progress deadline`}
    }
    const replicas = w.spec?.replicas ?? 1
    const updated = status.updatedReplicas ?? 0
    if (updated < replicas) return {done: false, message: `Waiting for deployment "${name}" rollout to finish: ${updated} out of ${replicas} new replicas have been updated...`}
    if ((status.replicas ?? 0) > updated) return {done: false, message: `Waiting for deployment "${name}" rollout to finish: ${(status.replicas ?? 0) - updated} old replicas are pending termination...`}
    if ((status.availableReplicas ?? 0) < updated) return {done: false, message: `Waiting for deployment "${name}" rollout to finish: ${status.availableReplicas ?? 0} of ${updated} updated replicas are available...`}
    return {done: true, message: `deployment "${name}" successfully rolled out`}
  }
  if (w.kind === 'DaemonSet') {
    if (!observed) return {done: false, message: 'Waiting for daemon set spec update to be observed...'}
    const desired = status.desiredNumberScheduled ?? 0
    const available = status.numberAvailable ?? 0
    // kubectl refuses OnDelete DaemonSets; kp waits for their pods to be available instead.
    const rolling = (w.spec?.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate'
    if (rolling && (status.updatedNumberScheduled ?? 0) < desired) {
      return {done: false, message: `Waiting for daemon set "${name}" rollout to finish: ${status.updatedNumberScheduled ?? 0} out of ${desired} new pods have been updated...`}
    }
    if (available < desired) return {done: false, message: `Waiting for daemon set "${name}" rollout to finish: ${available} of ${desired} updated pods are available...`}
    return {done: true, message: `daemon set "${name}" successfully rolled out`}
  }
  return {done: true, message: `${w.kind ?? 'object'} "${name}" has no rollout to wait for`}
}
