/** The drain's rules for each pod, from data alone. */
import {describe, expect, it} from 'vitest'

import {
  classifyPods,
  describePlan,
  describeRefusals,
  type DrainOptions,
  type PdbLike,
  type PodDecision,
  type PodLike,
  selects,
} from '../../src/lib/workflows/node-drain/classify.js'

const has = (text: string): unknown => expect.stringContaining(text)
const NOW = Date.parse('2026-01-10T12:00:00Z')
const NONE: DrainOptions = {deleteEmptydirData: false, disableEviction: false, force: false, skipWaitForDeleteTimeoutSeconds: 0}
const ALL: DrainOptions = {...NONE, deleteEmptydirData: true, force: true}

function pod(name: string, extra: {annotations?: Record<string, string>; deleting?: string; emptyDir?: boolean; labels?: Record<string, string>; owner?: string; phase?: string} = {}): PodLike {
  const [kind, owner] = extra.owner?.split('/') ?? []
  return {
    metadata: {
      annotations: extra.annotations,
      deletionTimestamp: extra.deleting,
      labels: extra.labels,
      name,
      namespace: 'default',
      ownerReferences: kind ? [{controller: true, kind, name: owner!}] : undefined,
      uid: `uid-${name}`,
    },
    spec: {volumes: extra.emptyDir ? [{emptyDir: {}, name: 'data'}] : [{name: 'config'}]},
    status: {phase: extra.phase ?? 'Running'},
  }
}

function pdb(name: string, app: string, status: {allowed: number; current: number; desired: number; expected: number}): PdbLike {
  return {
    metadata: {name, namespace: 'default'},
    spec: {selector: {matchLabels: {app}}},
    status: {currentHealthy: status.current, desiredHealthy: status.desired, disruptionsAllowed: status.allowed, expectedPods: status.expected},
  }
}

function decide(p: PodLike, options = NONE, pdbs: PdbLike[] = [], daemonSets: string[] = []): PodDecision {
  return classifyPods([p], pdbs, new Set(daemonSets), options, NOW).pods[0]!.decision
}

describe('what a drain does with each pod', () => {
  it('leaves mirror pods and DaemonSet pods in place', () => {
    expect(decide(pod('etcd-cp1', {annotations: {'kubernetes.io/config.mirror': 'abc'}, owner: 'Node/cp1'}), ALL)).toMatchObject({action: 'skip', reason: has('mirror pod')})
    expect(decide(pod('node-exporter-x', {owner: 'DaemonSet/node-exporter'}), NONE, [], ['default/node-exporter'])).toEqual({action: 'skip', reason: 'managed by DaemonSet default/node-exporter'})
  })

  it('refuses a pod whose DaemonSet is gone, unless --force', () => {
    const orphan = pod('agent-x', {owner: 'DaemonSet/agent'})
    expect(decide(orphan)).toEqual({action: 'refuse', refusals: [{daemonSet: 'default/agent', kind: 'daemonset-gone'}]})
    expect(decide(orphan, ALL)).toMatchObject({action: 'evict', warning: has('default/agent is gone')})
  })

  it('deletes finished pods whatever they are', () => {
    expect(decide(pod('job-x', {emptyDir: true, phase: 'Succeeded'}))).toEqual({action: 'delete', reason: 'finished: Succeeded'})
    expect(decide(pod('ds-x', {owner: 'DaemonSet/gone', phase: 'Failed'}))).toEqual({action: 'delete', reason: 'finished: Failed'})
  })

  it('waits for terminating pods, and leaves those past --skip-wait-for-delete-timeout', () => {
    const terminating = pod('web-1', {deleting: '2026-01-10T11:59:00Z', owner: 'ReplicaSet/web'})
    expect(decide(terminating)).toEqual({action: 'wait'})
    expect(decide(terminating, {...NONE, skipWaitForDeleteTimeoutSeconds: 30})).toMatchObject({action: 'skip', reason: has('--skip-wait-for-delete-timeout')})
    expect(decide(terminating, {...NONE, skipWaitForDeleteTimeoutSeconds: 90})).toEqual({action: 'wait'})
  })

  it('refuses emptyDir pods without --delete-emptydir-data and unmanaged pods without --force, naming both reasons', () => {
    expect(decide(pod('cache-0', {emptyDir: true, owner: 'ReplicaSet/cache'}))).toEqual({action: 'refuse', refusals: [{kind: 'emptydir'}]})
    expect(decide(pod('cache-0', {emptyDir: true, owner: 'ReplicaSet/cache'}), {...NONE, deleteEmptydirData: true})).toEqual({action: 'evict'})
    expect(decide(pod('debug'))).toEqual({action: 'refuse', refusals: [{kind: 'unmanaged'}]})
    expect(decide(pod('scratch', {emptyDir: true}))).toEqual({action: 'refuse', refusals: [{kind: 'emptydir'}, {kind: 'unmanaged'}]})
    expect(decide(pod('debug'), ALL)).toMatchObject({action: 'evict', warning: has('no controller')})
  })

  it('refuses a budget that needs every pod it has, and waits for one that is at 0 for now', () => {
    const web = pod('web-1', {labels: {app: 'web'}, owner: 'ReplicaSet/web'})
    expect(decide(web, NONE, [pdb('web', 'web', {allowed: 0, current: 2, desired: 2, expected: 2})])).toEqual({action: 'refuse', refusals: [{kind: 'pdb', pdb: 'default/web'}]})
    expect(decide(web, NONE, [pdb('web', 'web', {allowed: 0, current: 2, desired: 2, expected: 3})])).toEqual({action: 'evict', pdb: 'default/web'})
    expect(decide(web, NONE, [pdb('web', 'web', {allowed: 1, current: 3, desired: 2, expected: 3})])).toEqual({action: 'evict', pdb: 'default/web'})
    expect(decide(web, NONE, [pdb('other', 'api', {allowed: 0, current: 1, desired: 1, expected: 1})])).toEqual({action: 'evict'})
  })

  it('refuses a pod under two budgets (the Eviction API would answer 500)', () => {
    const web = pod('web-1', {labels: {app: 'web'}, owner: 'ReplicaSet/web'})
    const budgets = [pdb('a', 'web', {allowed: 1, current: 3, desired: 2, expected: 3}), pdb('b', 'web', {allowed: 1, current: 3, desired: 2, expected: 3})]
    expect(decide(web, NONE, budgets)).toEqual({action: 'refuse', refusals: [{kind: 'several-pdbs', pdbs: ['default/a', 'default/b']}]})
  })

  it('with --disable-eviction deletes, whatever the budgets say', () => {
    const web = pod('web-1', {labels: {app: 'web'}, owner: 'ReplicaSet/web'})
    expect(decide(web, {...NONE, disableEviction: true}, [pdb('web', 'web', {allowed: 0, current: 2, desired: 2, expected: 2})])).toEqual({action: 'delete', reason: '--disable-eviction'})
    expect(decide(pod('debug'), {...NONE, disableEviction: true})).toEqual({action: 'refuse', refusals: [{kind: 'unmanaged'}]})
  })
})

describe('the words', () => {
  it('names every refused pod with the flag that allows it, and the blocking budget with its numbers', () => {
    const budgets = [pdb('web', 'web', {allowed: 0, current: 2, desired: 2, expected: 2})]
    const plan = classifyPods([pod('debug'), pod('cache-0', {emptyDir: true, owner: 'ReplicaSet/cache'}), pod('web-1', {labels: {app: 'web'}, owner: 'ReplicaSet/web'})], budgets, new Set(), NONE, NOW)
    expect(describeRefusals(plan, budgets)).toEqual([
      'pods with emptyDir volumes, whose data is lost when they go (--delete-emptydir-data evicts them): default/cache-0',
      'pods that declare no controller, so nothing re-creates them (--force deletes them): default/debug',
      'pods whose PodDisruptionBudget needs every pod it has, so no eviction can succeed (scale the workload up or relax the budget; --disable-eviction bypasses it): default/web-1',
      'PodDisruptionBudget default/web allows 0 disruptions (needs 2 healthy pods and has 2)',
    ])
  })

  it('lists what the drain would do with every pod', () => {
    const budgets = [pdb('web', 'web', {allowed: 0, current: 2, desired: 2, expected: 3})]
    const pods = [pod('web-1', {labels: {app: 'web'}, owner: 'ReplicaSet/web'}), pod('job-1', {phase: 'Succeeded'}), pod('node-exporter-a', {owner: 'DaemonSet/node-exporter'})]
    expect(describePlan(classifyPods(pods, budgets, new Set(['default/node-exporter']), NONE, NOW))).toEqual([
      'delete default/job-1 (finished: Succeeded)',
      'leave default/node-exporter-a in place (managed by DaemonSet default/node-exporter)',
      'evict default/web-1 (PodDisruptionBudget default/web allows 0 disruptions (needs 2 healthy pods and has 2): kp retries until it allows one or the timeout)',
    ])
  })
})

describe('label selectors', () => {
  it('follow metav1.LabelSelector: nothing without a selector, everything with an empty one', () => {
    const labels = {app: 'web', tier: 'front'}
    expect(selects(undefined, labels)).toBe(false)
    expect(selects({}, labels)).toBe(true)
    expect(selects({matchLabels: {app: 'web'}}, labels)).toBe(true)
    expect(selects({matchLabels: {app: 'api'}}, labels)).toBe(false)
    expect(selects({matchExpressions: [{key: 'tier', operator: 'In', values: ['front', 'back']}]}, labels)).toBe(true)
    expect(selects({matchExpressions: [{key: 'tier', operator: 'NotIn', values: ['front']}]}, labels)).toBe(false)
    expect(selects({matchExpressions: [{key: 'canary', operator: 'NotIn', values: ['yes']}]}, labels)).toBe(true)
    expect(selects({matchExpressions: [{key: 'app', operator: 'Exists'}]}, labels)).toBe(true)
    expect(selects({matchExpressions: [{key: 'app', operator: 'DoesNotExist'}]}, labels)).toBe(false)
    expect(selects({matchExpressions: [{key: 'app', operator: 'Gt', values: ['1']}]}, labels)).toBe(false)
  })
})
