/** rolloutState: kubectl rollout status's verdicts for DaemonSets and Deployments. */
import {describe, expect, it} from 'vitest'

import {rolloutState} from '../../src/lib/kube/rollout.js'
import type {KubernetesObject} from '../../src/lib/kube/types.js'

const ds = (generation: number, status: Record<string, number> | undefined, strategy = 'RollingUpdate') =>
  ({apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: {generation, name: 'flannel'}, spec: {updateStrategy: {type: strategy}}, status}) as KubernetesObject

const deploy = (generation: number, replicas: number, status: Record<string, unknown>) =>
  ({apiVersion: 'apps/v1', kind: 'Deployment', metadata: {generation, name: 'coredns'}, spec: {replicas}, status}) as KubernetesObject

describe('rolloutState', () => {
  it('waits for a DaemonSet spec to be observed, its pods updated, then available', () => {
    expect(rolloutState(ds(1, undefined))).toEqual({done: false, message: 'Waiting for daemon set spec update to be observed...'})
    expect(rolloutState(ds(2, {desiredNumberScheduled: 3, numberAvailable: 3, observedGeneration: 1, updatedNumberScheduled: 3})).done).toBe(false)
    expect(rolloutState(ds(2, {desiredNumberScheduled: 3, numberAvailable: 3, observedGeneration: 2, updatedNumberScheduled: 1}))).toEqual({
      done: false,
      message: 'Waiting for daemon set "flannel" rollout to finish: 1 out of 3 new pods have been updated...',
    })
    // A NotReady node's pod is scheduled and updated but not available.
    expect(rolloutState(ds(1, {desiredNumberScheduled: 3, numberAvailable: 2, observedGeneration: 1, updatedNumberScheduled: 3}))).toEqual({
      done: false,
      message: 'Waiting for daemon set "flannel" rollout to finish: 2 of 3 updated pods are available...',
    })
    expect(rolloutState(ds(1, {desiredNumberScheduled: 3, numberAvailable: 3, observedGeneration: 1, updatedNumberScheduled: 3}))).toEqual({done: true, message: 'daemon set "flannel" successfully rolled out'})
  })

  it('judges an OnDelete DaemonSet by availability alone (kubectl refuses it)', () => {
    expect(rolloutState(ds(2, {desiredNumberScheduled: 2, numberAvailable: 2, observedGeneration: 2, updatedNumberScheduled: 0}, 'OnDelete')).done).toBe(true)
    expect(rolloutState(ds(2, {desiredNumberScheduled: 2, numberAvailable: 1, observedGeneration: 2}, 'OnDelete')).done).toBe(false)
  })

  it('follows a Deployment through updated, old and available replicas', () => {
    expect(rolloutState(deploy(3, 2, {observedGeneration: 2})).message).toBe('Waiting for deployment spec update to be observed...')
    expect(rolloutState(deploy(1, 2, {observedGeneration: 1, updatedReplicas: 1}))).toEqual({done: false, message: 'Waiting for deployment "coredns" rollout to finish: 1 out of 2 new replicas have been updated...'})
    expect(rolloutState(deploy(1, 2, {observedGeneration: 1, replicas: 3, updatedReplicas: 2})).message).toBe('Waiting for deployment "coredns" rollout to finish: 1 old replicas are pending termination...')
    expect(rolloutState(deploy(1, 2, {availableReplicas: 0, observedGeneration: 1, replicas: 2, updatedReplicas: 2})).message).toBe('Waiting for deployment "coredns" rollout to finish: 0 of 2 updated replicas are available...')
    expect(rolloutState(deploy(1, 2, {availableReplicas: 2, observedGeneration: 1, replicas: 2, updatedReplicas: 2}))).toEqual({done: true, message: 'deployment "coredns" successfully rolled out'})
  })

  it('marks a Deployment past its progress deadline as failed', () => {
    const state = rolloutState(deploy(1, 2, {conditions: [{reason: 'ProgressDeadlineExceeded', status: 'False', type: 'Progressing'}], observedGeneration: 1, updatedReplicas: 0}))
    expect(state).toEqual({done: false, failed: true, message: 'deployment "coredns" exceeded its progress deadline'})
  })

  it('has nothing to wait for on other kinds', () => {
    expect(rolloutState({apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'x'}})).toEqual({done: true, message: 'ConfigMap "x" has no rollout to wait for'})
  })
})
