/** Server-side apply on the fake API through a raw HTTPS client: create, merge, ownership, conflicts, checks, dry run; the new resources. */
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import type {KubeObject, ManagedFieldsEntry} from '../../../src/lib/lab/kube/index.js'
import {call, startTestKube, type TestKube} from './helpers.js'

const APPLY = 'application/apply-patch+yaml'
const CM = '/api/v1/namespaces/default/configmaps/settings'

function configMap(data: Record<string, string>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {apiVersion: 'v1', data, kind: 'ConfigMap', metadata: {name: 'settings'}, ...extra}
}

interface Status {
  code: number
  details?: {causes?: Array<{field?: string; message: string; reason?: string}>; group?: string; kind?: string}
  message: string
  reason?: string
}

describe('server-side apply on the fake API', () => {
  let t: TestKube
  beforeEach(async () => {
    t = await startTestKube({controllerIntervalMs: 0})
    t.kube.seedDemo({nodes: ['cp1', 'w1']})
  })
  afterEach(() => t.kube.close())

  const apply = (path: string, body: unknown, query = 'fieldManager=kp', raw = false) => call(t.kube, 'PATCH', `${path}${query ? `?${query}` : ''}`, body, {contentType: APPLY, raw})

  it('creates the object the URL names (201), from YAML, recording the manager as an Apply entry', async () => {
    const yaml = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  labels: {app: demo}\ndata:\n  mode: fast\n'
    const answer = await apply(CM, yaml, 'fieldManager=kp', true)
    expect(answer.status).toBe(201)
    const object = answer.body as KubeObject & {data: Record<string, string>}
    expect(object.data).toEqual({mode: 'fast'})
    expect(object.metadata).toMatchObject({labels: {app: 'demo'}, name: 'settings', namespace: 'default'})
    expect(object.metadata.uid).toBeTruthy()
    expect(object.metadata.managedFields).toEqual([
      {apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: {'f:data': {'f:mode': {}}, 'f:metadata': {'f:labels': {'f:app': {}}}}, manager: 'kp', operation: 'Apply', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) as unknown},
    ])
  })

  it('changes nothing on a second identical apply: same resourceVersion, same managedFields', async () => {
    const first = (await apply(CM, configMap({mode: 'fast'}))).body as KubeObject
    const second = await apply(CM, configMap({mode: 'fast'}))
    expect(second.status).toBe(200)
    expect((second.body as KubeObject).metadata.resourceVersion).toBe(first.metadata.resourceVersion)
    expect((second.body as KubeObject).metadata.managedFields).toEqual(first.metadata.managedFields)
  })

  it('merges: applied fields win, fields of other managers stay, and fields the manager stopped applying go', async () => {
    // Given: kp applied two keys, someone else added a third with an ordinary patch
    await apply(CM, configMap({a: '1', b: '2'}))
    await call(t.kube, 'PATCH', `${CM}?fieldManager=ops`, {data: {c: '3'}}, {contentType: 'application/merge-patch+json'})
    // When: kp applies a new value for a and no longer applies b
    const answer = await apply(CM, configMap({a: '10'}))
    // Then
    expect(answer.status).toBe(200)
    const object = answer.body as KubeObject & {data: Record<string, string>}
    expect(object.data).toEqual({a: '10', c: '3'})
    const managers = object.metadata.managedFields!.map((e: ManagedFieldsEntry) => [e.manager, e.operation, e.fieldsV1])
    expect(managers).toEqual([
      ['kp', 'Apply', {'f:data': {'f:a': {}}}],
      ['ops', 'Update', {'f:data': {'f:c': {}}}],
    ])
  })

  it('merges lists by key: a container applied by name keeps the other containers', async () => {
    const path = '/apis/apps/v1/namespaces/default/deployments/web'
    const current = t.kube.get('deployments', 'default', 'web') as KubeObject & {spec: {template: {spec: {containers: Array<{image: string; name: string}>}}}}
    const first = current.spec.template.spec.containers[0]!
    const answer = await apply(path, {apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name: 'web'}, spec: {template: {spec: {containers: [{image: 'sidecar:1', name: 'sidecar'}]}}}})
    expect(answer.status, JSON.stringify(answer.body)).toBe(200)
    const containers = (answer.body as typeof current).spec.template.spec.containers
    expect(containers.map((c) => c.name)).toEqual([first.name, 'sidecar'])
    const entry = (answer.body as KubeObject).metadata.managedFields!.find((e) => e.manager === 'kp')!
    expect(entry.fieldsV1).toEqual({'f:spec': {'f:template': {'f:spec': {'f:containers': {'k:{"name":"sidecar"}': {'.': {}, 'f:image': {}, 'f:name': {}}}}}}})
    expect((answer.body as KubeObject).metadata.generation).toBe(2)
  })

  it('refuses with 409 Conflict when another manager owns a field the apply changes, and takes it over with force=true', async () => {
    await apply(CM, configMap({mode: 'fast', owner: 'other'}), 'fieldManager=other')
    // Applying the same value is no conflict: both own it.
    expect((await apply(CM, configMap({owner: 'other'}))).status).toBe(200)

    const refused = await apply(CM, configMap({mode: 'slow'}))
    expect(refused.status).toBe(409)
    const status = refused.body as Status
    expect(status).toMatchObject({code: 409, kind: 'Status', reason: 'Conflict', status: 'Failure'})
    expect(status.message).toBe('Apply failed with 1 conflict: conflict with "other": .data.mode')
    expect(status.details?.causes).toEqual([{field: '.data.mode', message: 'conflict with "other"', reason: 'FieldManagerConflict'}])
    expect(t.kube.get<KubeObject & {data: Record<string, string>}>('configmaps', 'default', 'settings')?.data.mode).toBe('fast')

    const forced = await apply(CM, configMap({mode: 'slow'}), 'fieldManager=kp&force=true')
    expect(forced.status).toBe(200)
    const object = forced.body as KubeObject & {data: Record<string, string>}
    expect(object.data).toEqual({mode: 'slow', owner: 'other'})
    const other = object.metadata.managedFields!.find((e) => e.manager === 'other')!
    expect(other.fieldsV1).toEqual({'f:data': {'f:owner': {}}})
  })

  it('names an Update manager with its apiVersion, and lists several conflicts by manager', async () => {
    await call(t.kube, 'POST', '/api/v1/namespaces/default/configmaps?fieldManager=kubectl-create', configMap({a: '1', b: '2'}))
    const refused = await apply(CM, configMap({a: 'x', b: 'y'}))
    expect(refused.status).toBe(409)
    expect((refused.body as Status).message).toBe('Apply failed with 2 conflicts: conflicts with "kubectl-create" using v1:\n- .data.a\n- .data.b')
  })

  it('requires fieldManager: 422 Invalid PatchOptions, as ValidatePatchOptions', async () => {
    const answer = await apply(CM, configMap({a: '1'}), '')
    expect(answer.status).toBe(422)
    expect(answer.body).toMatchObject({
      details: {causes: [{field: 'fieldManager', message: 'Required value: is required for apply patch', reason: 'FieldValueRequired'}], group: 'meta.k8s.io', kind: 'PatchOptions'},
      message: 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      reason: 'Invalid',
    })
    const force = await call(t.kube, 'PATCH', `${CM}?force=true`, {data: {}}, {contentType: 'application/merge-patch+json'})
    expect(force.status).toBe(422)
    expect((force.body as Status).message).toBe('PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch')
  })

  it('refuses a body whose name, namespace or kind disagrees with the URL, and managedFields in the body', async () => {
    const name = await apply(CM, {...configMap({}), metadata: {name: 'other'}})
    expect(name).toMatchObject({body: {message: 'the name of the object (other) does not match the name on the URL (settings)', reason: 'BadRequest'}, status: 400})
    const namespace = await apply(CM, {...configMap({}), metadata: {name: 'settings', namespace: 'kube-system'}})
    expect(namespace).toMatchObject({body: {message: 'the namespace of the provided object does not match the namespace sent on the request'}, status: 400})
    const kind = await apply(CM, {...configMap({}), kind: 'Secret'})
    expect(kind).toMatchObject({body: {message: 'invalid object type: /v1, Kind=Secret'}, status: 400})
    const version = await apply('/apis/apps/v1/namespaces/default/daemonsets/x', {apiVersion: 'apps/v1beta2', kind: 'DaemonSet', metadata: {name: 'x'}})
    expect((version.body as Status).message).toBe('invalid object type: apps/v1beta2, Kind=DaemonSet')
    const managed = await apply(CM, {...configMap({}), metadata: {managedFields: [], name: 'settings'}})
    expect(managed).toMatchObject({body: {message: 'metadata.managedFields must be nil'}, status: 400})
    const yaml = await apply(CM, 'kind: [unclosed', 'fieldManager=kp', true)
    expect(yaml.status).toBe(400)
    expect((yaml.body as Status).message).toMatch(/^error decoding YAML: /)
    expect(t.kube.get('configmaps', 'default', 'settings')).toBeUndefined()
  })

  it('answers 404 for a namespace that does not exist, like the real server', async () => {
    const answer = await apply('/api/v1/namespaces/nowhere/configmaps/settings', configMap({}))
    expect(answer).toMatchObject({body: {code: 404, details: {kind: 'namespaces', name: 'nowhere'}, message: 'namespaces "nowhere" not found', reason: 'NotFound'}, status: 404})
    const created = await call(t.kube, 'POST', '/api/v1/namespaces/nowhere/secrets', {apiVersion: 'v1', kind: 'Secret', metadata: {name: 's'}})
    expect(created.status).toBe(404)
  })

  it('honours dryRun=All: the answer of a real apply, nothing stored', async () => {
    const created = await apply(CM, configMap({a: '1'}), 'fieldManager=kp&dryRun=All')
    expect(created.status).toBe(201)
    expect((created.body as {data: unknown}).data).toEqual({a: '1'})
    expect(t.kube.get('configmaps', 'default', 'settings')).toBeUndefined()
    await apply(CM, configMap({a: '1'}))
    const updated = await apply(CM, configMap({a: '2'}), 'fieldManager=kp&dryRun=All')
    expect((updated.body as {data: unknown}).data).toEqual({a: '2'})
    expect(t.kube.get<KubeObject & {data: unknown}>('configmaps', 'default', 'settings')?.data).toEqual({a: '1'})
  })

  it('applies cluster-scoped RBAC objects, ignoring a namespace in the body', async () => {
    const role = {apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: {name: 'flannel', namespace: 'ignored'}, rules: [{apiGroups: [''], resources: ['nodes'], verbs: ['list']}]}
    const answer = await apply('/apis/rbac.authorization.k8s.io/v1/clusterroles/flannel', role)
    expect(answer.status).toBe(201)
    expect((answer.body as KubeObject).metadata.namespace).toBeUndefined()
    // rules is an atomic list: a new list replaces it whole.
    const next = await apply('/apis/rbac.authorization.k8s.io/v1/clusterroles/flannel', {...role, rules: [{apiGroups: [''], resources: ['pods'], verbs: ['get']}]})
    expect((next.body as {rules: unknown[]}).rules).toEqual([{apiGroups: [''], resources: ['pods'], verbs: ['get']}])
    expect((next.body as KubeObject).metadata.managedFields?.[0]?.fieldsV1).toEqual({'f:rules': {}})
  })

  it('applies to the status subresource: only the status changes, under an entry for that subresource', async () => {
    const path = '/apis/apps/v1/namespaces/default/deployments/web/status'
    const answer = await apply(path, {apiVersion: 'apps/v1', kind: 'Deployment', metadata: {name: 'web'}, spec: {replicas: 9}, status: {replicas: 42}}, 'fieldManager=probe')
    expect(answer.status, JSON.stringify(answer.body)).toBe(200)
    const object = answer.body as KubeObject & {spec: {replicas: number}; status: {replicas: number}}
    expect(object.status.replicas).toBe(42)
    expect(object.spec.replicas).toBe(3)
    expect(object.metadata.managedFields?.find((e) => e.manager === 'probe')).toMatchObject({fieldsV1: {'f:status': {'f:replicas': {}}}, operation: 'Apply', subresource: 'status'})
  })

  it('records Update entries for ordinary writes, from fieldManager or the User-Agent', async () => {
    const created = await call(t.kube, 'POST', '/api/v1/namespaces/default/serviceaccounts', {apiVersion: 'v1', kind: 'ServiceAccount', metadata: {labels: {a: 'b'}, name: 'robot'}})
    expect(created.status).toBe(201)
    const entry = (created.body as KubeObject).metadata.managedFields?.[0]
    // Node's https client sends no User-Agent and the request no fieldManager: an empty manager, as managerOrUserAgent gives.
    expect(entry).toMatchObject({apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: {'f:metadata': {'f:labels': {'f:a': {}}}}, manager: '', operation: 'Update'})
    const labelled = await call(t.kube, 'PATCH', '/api/v1/namespaces/default/serviceaccounts/robot?fieldManager=kubectl-label', {metadata: {labels: {a: 'c'}}}, {contentType: 'application/merge-patch+json'})
    expect((labelled.body as KubeObject).metadata.managedFields?.map((e) => e.manager)).toEqual(['kubectl-label'])
  })
})

describe('the resources a CNI manifest and kubeadm need', () => {
  let t: TestKube
  beforeEach(async () => {
    t = await startTestKube({controllerIntervalMs: 0})
  })
  afterEach(() => t.kube.close())

  it('lists configmaps, secrets, serviceaccounts and services in core v1 and the RBAC group with their short names', async () => {
    const core = (await call(t.kube, 'GET', '/api/v1')).body as {resources: Array<{kind: string; name: string; namespaced: boolean; shortNames?: string[]}>}
    const byName = (n: string) => core.resources.find((r) => r.name === n)
    expect(byName('configmaps')).toMatchObject({kind: 'ConfigMap', namespaced: true, shortNames: ['cm']})
    expect(byName('secrets')).toMatchObject({kind: 'Secret', namespaced: true})
    expect(byName('serviceaccounts')).toMatchObject({kind: 'ServiceAccount', shortNames: ['sa']})
    expect(byName('services')).toMatchObject({kind: 'Service', shortNames: ['svc']})
    const rbac = (await call(t.kube, 'GET', '/apis/rbac.authorization.k8s.io/v1')).body as {resources: Array<{name: string; namespaced: boolean}>}
    expect(rbac.resources.map((r) => [r.name, r.namespaced])).toEqual([['clusterrolebindings', false], ['clusterroles', false], ['rolebindings', true], ['roles', true]])
    expect(((await call(t.kube, 'GET', '/apis')).body as {groups: Array<{name: string}>}).groups.map((g) => g.name)).toContain('rbac.authorization.k8s.io')
  })

  it('defaults Services (a ClusterIP from 10.96.0.0/12, TCP, targetPort) and has the kubernetes Service', async () => {
    expect(t.kube.get('services', 'default', 'kubernetes')).toMatchObject({spec: {clusterIP: '10.96.0.1', ports: [{name: 'https', port: 443, targetPort: 6443}]}})
    const answer = await call(t.kube, 'POST', '/api/v1/namespaces/kube-system/services', {apiVersion: 'v1', kind: 'Service', metadata: {name: 'kube-dns'}, spec: {clusterIP: '10.96.0.10', ports: [{name: 'dns', port: 53, protocol: 'UDP'}]}})
    expect(answer.body).toMatchObject({spec: {clusterIP: '10.96.0.10', ports: [{port: 53, protocol: 'UDP', targetPort: 53}], type: 'ClusterIP'}})
    const other = await call(t.kube, 'POST', '/api/v1/namespaces/default/services', {apiVersion: 'v1', kind: 'Service', metadata: {name: 'web'}, spec: {ports: [{port: 80}]}})
    expect(other.body).toMatchObject({spec: {clusterIP: '10.96.0.2', ports: [{port: 80, protocol: 'TCP', targetPort: 80}]}})
  })

  it('folds a Secret\'s stringData into data and defaults its type', async () => {
    const answer = await call(t.kube, 'POST', '/api/v1/namespaces/kube-system/secrets', {apiVersion: 'v1', kind: 'Secret', metadata: {name: 's'}, stringData: {token: 'abc'}})
    expect(answer.body).toMatchObject({data: {token: Buffer.from('abc').toString('base64')}, type: 'Opaque'})
    expect(answer.body).not.toHaveProperty('stringData')
  })

  it('serves OpenAPI v3 with the PATCH parameters kubectl probes for fieldValidation', async () => {
    const index = (await call(t.kube, 'GET', '/openapi/v3')).body as {paths: Record<string, {serverRelativeURL: string}>}
    expect(Object.keys(index.paths)).toEqual(expect.arrayContaining(['api/v1', 'apis/apps/v1', 'apis/rbac.authorization.k8s.io/v1']))
    const doc = (await call(t.kube, 'GET', index.paths['apis/apps/v1']!.serverRelativeURL)).body as {paths: Record<string, {patch?: {parameters: Array<{in: string; name: string}>; 'x-kubernetes-group-version-kind': unknown}}>}
    const patch = doc.paths['/apis/apps/v1/namespaces/{namespace}/daemonsets/{name}']?.patch
    expect(patch?.['x-kubernetes-group-version-kind']).toEqual({group: 'apps', kind: 'DaemonSet', version: 'v1'})
    expect(patch?.parameters.map((p) => p.name)).toContain('fieldValidation')
    expect((await call(t.kube, 'GET', '/openapi/v3/apis/nothing/v1')).status).toBe(404)
  })
})
