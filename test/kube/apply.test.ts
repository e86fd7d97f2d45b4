/** The adapter's server-side apply and getObject against the lab's API server: any kind by discovery, idempotent, conflicts, dry run. */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {connectKube} from '../../src/lib/kube/client.js'
import {KubeApiError} from '../../src/lib/kube/errors.js'
import {rolloutState} from '../../src/lib/kube/rollout.js'
import type {Kube, KubernetesObject} from '../../src/lib/kube/types.js'
import {startTestKube, type TestKube} from '../lab/kube/helpers.js'

const NAMESPACE = {apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'kube-flannel'}}
const CONFIG = {apiVersion: 'v1', data: {'net-conf.json': '{"Network": "10.244.0.0/16"}'}, kind: 'ConfigMap', metadata: {name: 'kube-flannel-cfg', namespace: 'kube-flannel'}}
const ROLE = {apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: {name: 'flannel'}, rules: [{apiGroups: [''], resources: ['nodes'], verbs: ['list']}]}
const DAEMONSET = {
  apiVersion: 'apps/v1',
  kind: 'DaemonSet',
  metadata: {name: 'kube-flannel-ds', namespace: 'kube-flannel'},
  spec: {
    selector: {matchLabels: {app: 'flannel'}},
    template: {
      metadata: {labels: {app: 'flannel'}},
      spec: {containers: [{image: 'docker.io/flannel/flannel:v0.26.1', name: 'kube-flannel'}], hostNetwork: true, tolerations: [{effect: 'NoSchedule', operator: 'Exists'}], volumes: [{hostPath: {path: '/etc/cni/net.d'}, name: 'cni'}]},
    },
  },
}

describe('server-side apply through the adapter', () => {
  let t: TestKube
  let kube: Kube
  beforeAll(async () => {
    t = await startTestKube()
    t.kube.seedDemo({nodes: ['cp1', 'w1', 'w2']})
    kube = await connectKube({kubeconfig: t.kubeconfig, retry: {baseMs: 10, maxMs: 20, tries: 3}})
  })
  afterAll(async () => {
    await kube.close()
    await t.kube.close()
  })

  it('creates objects of core, RBAC and apps kinds, recording kp as their Apply manager', async () => {
    for (const object of [NAMESPACE, CONFIG, ROLE, DAEMONSET]) {
      const applied = await kube.apply(object, {fieldManager: 'kp', force: true})
      expect(applied.metadata?.uid).toBeTruthy()
      expect(applied.metadata?.managedFields?.map((e) => [e.manager, e.operation])).toEqual([['kp', 'Apply']])
    }
    const patches = t.kube.requestLog.filter((e) => e.method === 'PATCH')
    expect(patches.map((e) => e.path)).toEqual([
      '/api/v1/namespaces/kube-flannel',
      '/api/v1/namespaces/kube-flannel/configmaps/kube-flannel-cfg',
      '/apis/rbac.authorization.k8s.io/v1/clusterroles/flannel',
      '/apis/apps/v1/namespaces/kube-flannel/daemonsets/kube-flannel-ds',
    ])
    expect(patches[0]?.query).toEqual({fieldManager: 'kp', fieldValidation: 'Strict', force: 'true'})
    expect(patches.map((e) => e.status)).toEqual([201, 201, 201, 201])
  })

  it('is idempotent: a second apply changes no resourceVersion, and discovery is asked once per group version', async () => {
    const before = t.kube.get('configmaps', 'kube-flannel', 'kube-flannel-cfg')!.metadata.resourceVersion
    const discovery = () => t.kube.requestLog.filter((e) => e.path === '/api/v1' || e.path.startsWith('/apis/')).filter((e) => e.method === 'GET' && e.path.split('/').length <= 4).length
    const asked = discovery()
    const again = await kube.apply(CONFIG, {fieldManager: 'kp'})
    expect(again.metadata?.resourceVersion).toBe(before)
    expect(t.kube.get('configmaps', 'kube-flannel', 'kube-flannel-cfg')!.metadata.resourceVersion).toBe(before)
    expect(discovery()).toBe(asked)
  })

  it('reads any object back with getObject, and undefined when it is not there', async () => {
    const live = await kube.getObject('apps/v1', 'DaemonSet', 'kube-flannel', 'kube-flannel-ds')
    expect(live?.metadata?.name).toBe('kube-flannel-ds')
    expect(await kube.getObject('v1', 'ConfigMap', 'kube-flannel', 'missing')).toBeUndefined()
    // Cluster-scoped: the namespace is not part of the path.
    expect((await kube.getObject('rbac.authorization.k8s.io/v1', 'ClusterRole', 'whatever', 'flannel'))?.metadata?.name).toBe('flannel')
    expect((await kube.getDaemonSet('kube-flannel', 'kube-flannel-ds'))?.spec?.template.spec?.hostNetwork).toBe(true)
    expect(await kube.getDeployment('default', 'nothing')).toBeUndefined()
  })

  it('polls a rollout with getObject and rolloutState until the DaemonSet is on every node', async () => {
    let state = {done: false, message: ''}
    for (let i = 0; i < 100 && !state.done; i++) {
      state = rolloutState((await kube.getObject('apps/v1', 'DaemonSet', 'kube-flannel', 'kube-flannel-ds'))!)
      if (!state.done) await new Promise((r) => setTimeout(r, 50))
    }
    expect(state).toEqual({done: true, message: 'daemon set "kube-flannel-ds" successfully rolled out'})
  })

  it('refuses a conflicting apply with a 409 naming the field and its manager, unless forced', async () => {
    const theirs = {...CONFIG, data: {'net-conf.json': 'theirs'}}
    await kube.apply(theirs, {fieldManager: 'operator', force: true})
    const error = await kube.apply(CONFIG, {fieldManager: 'kp'}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(KubeApiError)
    const e = error as KubeApiError
    expect(e.status).toBe(409)
    expect(e.message).toBe('apply ConfigMap kube-flannel/kube-flannel-cfg: 409 Apply failed with 1 conflict: conflict with "operator": .data.net-conf.json')
    expect(e.transient).toBe(false)
    const forced = (await kube.apply(CONFIG, {fieldManager: 'kp', force: true})) as KubernetesObject & {data: Record<string, string>}
    expect(forced.data['net-conf.json']).toContain('10.244.0.0/16')
  })

  it('answers a dry run without changing anything', async () => {
    const object = {apiVersion: 'v1', data: {a: '1'}, kind: 'ConfigMap', metadata: {name: 'dry', namespace: 'default'}}
    const answer = await kube.apply(object, {dryRun: true, fieldManager: 'kp'})
    expect(answer.metadata?.name).toBe('dry')
    expect(t.kube.get('configmaps', 'default', 'dry')).toBeUndefined()
  })

  it('puts a namespaced object without a namespace in default', async () => {
    await kube.apply({apiVersion: 'v1', kind: 'ServiceAccount', metadata: {name: 'robot'}}, {fieldManager: 'kp'})
    expect(t.kube.get('serviceaccounts', 'default', 'robot')).toBeDefined()
  })

  it('names the kind and apiVersion the server does not serve, without sending a write', async () => {
    const writes = t.kube.requestLog.filter((e) => e.method !== 'GET').length
    const crd = {apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: {name: 'default-pool'}}
    const error = (await kube.apply(crd, {fieldManager: 'kp'}).catch((e: unknown) => e)) as KubeApiError
    expect(error).toBeInstanceOf(KubeApiError)
    expect(error.message).toBe('apply IPPool default-pool: the API server does not serve kind "IPPool" in "crd.projectcalico.org/v1"')
    expect(error.hint).toContain('CustomResourceDefinition')
    const wrongKind = (await kube.apply({apiVersion: 'apps/v1', kind: 'DaemonSett', metadata: {name: 'x'}}, {fieldManager: 'kp'}).catch((e: unknown) => e)) as KubeApiError
    expect(wrongKind.message).toContain('does not serve kind "DaemonSett" in "apps/v1"')
    await expect(kube.getObject('example.com/v1', 'Widget', 'default', 'w')).rejects.toThrow(/does not serve kind "Widget"/)
    await expect(kube.apply({apiVersion: 'v1', kind: 'ConfigMap', metadata: {}}, {fieldManager: 'kp'})).rejects.toThrow(/needs apiVersion, kind and metadata.name/)
    expect(t.kube.requestLog.filter((e) => e.method !== 'GET')).toHaveLength(writes)
  })

  it('never retries a write: one PATCH through a 500', async () => {
    t.kube.setFaults({errors: [{method: 'PATCH', rate: 1, status: 500}]})
    const before = t.kube.requestLog.length
    await expect(kube.apply(CONFIG, {fieldManager: 'kp', force: true})).rejects.toThrow(/apply ConfigMap kube-flannel\/kube-flannel-cfg: 500/)
    expect(t.kube.requestLog.slice(before).filter((e) => e.method === 'PATCH')).toHaveLength(1)
    t.kube.setFaults({})
  })
})
