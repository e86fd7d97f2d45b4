/** The pure parts of the fake API server: selectors, patches, PDB arithmetic, routes, ages. */
import {describe, expect, it} from 'vitest'

import {parseResourcePath} from '../../../src/lib/lab/kube/routes.js'
import {humanDuration} from '../../../src/lib/lab/kube/table.js'
import {computePdbStatus, fromLabelSelector, jsonPatch, KubeError, matchesFields, matchesLabels, mergePatch, parseFieldSelector, parseLabelSelector, type Pod, type PodDisruptionBudget, strategicMergePatch} from '../../../src/lib/lab/kube/index.js'

describe('label selectors', () => {
  const labels = {app: 'web', tier: 'front'}
  it.each([
    ['app=web', true],
    ['app==web', true],
    ['app!=web', false],
    ['app!=api', true],
    ['app in (api, web)', true],
    ['app notin (api,web)', false],
    ['tier', true],
    ['!tier', false],
    ['!missing', true],
    ['missing!=x', true],
    ['app=web,tier in (back)', false],
    ['', true],
  ])('%s → %s', (selector, expected) => {
    expect(matchesLabels(parseLabelSelector(selector), labels)).toBe(expected)
  })

  it('rejects bad syntax with 400', () => {
    expect(() => parseLabelSelector('app=(x')).toThrow(KubeError)
  })

  it('reads LabelSelector objects; a missing one selects nothing', () => {
    const requirements = fromLabelSelector({matchExpressions: [{key: 'tier', operator: 'In', values: ['front']}, {key: 'gone', operator: 'DoesNotExist'}], matchLabels: {app: 'web'}})
    expect(matchesLabels(requirements ?? [], labels)).toBe(true)
    expect(fromLabelSelector(undefined)).toBeUndefined()
    expect(matchesLabels(fromLabelSelector({}) ?? [], labels)).toBe(true)
  })
})

describe('field selectors', () => {
  const pod = {metadata: {name: 'a', namespace: 'default'}, spec: {nodeName: 'w1'}, status: {phase: 'Running'}}
  it('matches = and != on supported fields, and refuses others', () => {
    const supported = ['metadata.name', 'metadata.namespace', 'spec.nodeName', 'status.phase']
    expect(matchesFields(parseFieldSelector('spec.nodeName=w1,status.phase!=Failed', supported), pod)).toBe(true)
    expect(matchesFields(parseFieldSelector('spec.nodeName==w2', supported), pod)).toBe(false)
    expect(() => parseFieldSelector('spec.image=x', supported)).toThrow('field label not supported: spec.image')
  })
})

describe('patches', () => {
  it('merge patch: null removes, objects merge, lists replace', () => {
    expect(mergePatch({a: {b: 1, c: 2}, l: [1, 2]}, {a: {b: null, d: 3}, l: [3]})).toEqual({a: {c: 2, d: 3}, l: [3]})
  })

  it('strategic merge patch merges keyed lists and honours $patch: delete', () => {
    const node = {spec: {taints: [{effect: 'NoSchedule', key: 'a'}, {effect: 'NoSchedule', key: 'b'}], unschedulable: true}}
    expect(strategicMergePatch(node, {spec: {taints: [{effect: 'NoExecute', key: 'a'}, {$patch: 'delete', key: 'b'}], unschedulable: null}})).toEqual({spec: {taints: [{effect: 'NoExecute', key: 'a'}]}})
    expect(strategicMergePatch({metadata: {finalizers: ['x']}}, {metadata: {finalizers: ['y']}})).toEqual({metadata: {finalizers: ['x', 'y']}})
  })

  it('JSON patch: add to arrays, move, copy, and failures', () => {
    const doc = {a: [1, 3], b: {c: 'x'}}
    expect(jsonPatch(doc, [{op: 'add', path: '/a/1', value: 2}, {op: 'add', path: '/a/-', value: 4}, {op: 'copy', from: '/b/c', path: '/d'}, {op: 'move', from: '/b', path: '/e'}])).toEqual({a: [1, 2, 3, 4], d: 'x', e: {c: 'x'}})
    expect(doc).toEqual({a: [1, 3], b: {c: 'x'}})
    expect(() => jsonPatch(doc, [{op: 'remove', path: '/zz'}])).toThrow(KubeError)
    expect(() => jsonPatch(doc, [{op: 'replace', path: '/q/r', value: 1}])).toThrow(KubeError)
  })
})

describe('PDB status', () => {
  const ready = (name: string, ownerUid?: string): Pod => ({
    apiVersion: 'v1', kind: 'Pod',
    metadata: {labels: {app: 'web'}, name, namespace: 'default', ...(ownerUid ? {ownerReferences: [{apiVersion: 'apps/v1', controller: true, kind: 'ReplicaSet', name: 'rs', uid: ownerUid}]} : {})},
    spec: {containers: [{name: 'c'}]},
    status: {conditions: [{status: 'True', type: 'Ready'}], phase: 'Running'},
  })
  const pdb = (spec: PodDisruptionBudget['spec']): PodDisruptionBudget => ({apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: {generation: 1, name: 'p', namespace: 'default'}, spec: {selector: {matchLabels: {app: 'web'}}, ...spec}})
  const pods = [ready('a', 'u'), ready('b', 'u'), {...ready('c', 'u'), status: {phase: 'Running' as const}}]
  const scale = () => ({key: 'rs', replicas: 3})

  it.each([
    [{minAvailable: 2}, {currentHealthy: 2, desiredHealthy: 2, disruptionsAllowed: 0, expectedPods: 3}],
    [{minAvailable: 1}, {currentHealthy: 2, desiredHealthy: 1, disruptionsAllowed: 1, expectedPods: 3}],
    [{minAvailable: '50%'}, {desiredHealthy: 2, disruptionsAllowed: 0, expectedPods: 3}],
    [{maxUnavailable: 1}, {desiredHealthy: 2, disruptionsAllowed: 0, expectedPods: 3}],
    [{maxUnavailable: '34%'}, {desiredHealthy: 1, disruptionsAllowed: 1, expectedPods: 3}],
  ])('%o → %o', (spec, expected) => {
    expect(computePdbStatus(pdb(spec), pods, scale, false, 'now')).toMatchObject(expected)
  })

  it('a blocking fault forces disruptionsAllowed to 0', () => {
    expect(computePdbStatus(pdb({maxUnavailable: 3}), pods, scale, true, 'now')).toMatchObject({disruptionsAllowed: 0})
  })
})

describe('routes and ages', () => {
  it('resolves resource paths like the request-info resolver', () => {
    expect(parseResourcePath('/api/v1/namespaces/default/pods/x/eviction')).toMatchObject({name: 'x', namespace: 'default', subresource: 'eviction'})
    expect(parseResourcePath('/api/v1/namespaces/kube-system')).toMatchObject({def: {name: 'namespaces'}, name: 'kube-system'})
    expect(parseResourcePath('/apis/apps/v1/deployments')).toMatchObject({def: {name: 'deployments'}})
    expect(parseResourcePath('/api/v1/nodes/w1/status')).toMatchObject({name: 'w1', subresource: 'status'})
    expect(parseResourcePath('/api/v1/pods/x')).toBeUndefined()
    expect(parseResourcePath('/api/v1/namespaces/default/pods/x/exec')).toBeUndefined()
  })

  it('prints ages as kubectl does', () => {
    expect([5_000, 150_000, 30 * 60_000, 5 * 3600_000 + 60_000, 30 * 3600_000, 3 * 86_400_000].map(humanDuration)).toEqual(['5s', '2m30s', '30m', '5h1m', '30h', '3d'])
  })
})
