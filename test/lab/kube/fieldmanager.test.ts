/** Field ownership for server-side apply (fieldmanager.ts): field sets, FieldsV1, paths, merges by key, pruning. */
import {describe, expect, it} from 'vitest'

import {applyConfig, decodeFieldsV1, encodeFieldsV1, fieldSet, pathString, recordUpdate} from '../../../src/lib/lab/kube/fieldmanager.js'
import type {KubeObject} from '../../../src/lib/lab/kube/index.js'

const deployment = (containers: unknown[], extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {name: 'web', namespace: 'default', uid: 'u1', resourceVersion: '7'},
  spec: {selector: {matchLabels: {app: 'web'}}, template: {metadata: {labels: {app: 'web'}}, spec: {containers, ...extra}}},
})

describe('the field manager', () => {
  it('owns leaves, keyed list items with a "." marker, atomic selectors whole, and no system metadata', () => {
    const set = fieldSet(deployment([{image: 'nginx', name: 'web', ports: [{containerPort: 80}]}], {tolerations: [{operator: 'Exists'}]}), 'main')
    const fields = encodeFieldsV1([...set.values()].map((f) => f.path))
    expect(fields).toEqual({
      'f:spec': {
        'f:selector': {},
        'f:template': {
          'f:metadata': {'f:labels': {'f:app': {}}},
          'f:spec': {
            'f:containers': {'k:{"name":"web"}': {'.': {}, 'f:image': {}, 'f:name': {}, 'f:ports': {'k:{"containerPort":80,"protocol":"TCP"}': {'.': {}, 'f:containerPort': {}}}}},
            'f:tolerations': {},
          },
        },
      },
    })
    expect(decodeFieldsV1(fields)).toEqual(new Set(set.keys()))
  })

  it('prints paths as fieldpath does', () => {
    expect(pathString(['f:spec', 'f:containers', 'k:{"name":"web"}', 'f:image'])).toBe('.spec.containers[name="web"].image')
    expect(pathString(['f:ports', 'k:{"containerPort":80,"protocol":"TCP"}'])).toBe('.ports[containerPort=80,protocol="TCP"]')
    expect(pathString(['f:metadata', 'f:finalizers', 'v:"kubernetes"'])).toBe('.metadata.finalizers[="kubernetes"]')
  })

  it('drops a container the manager stopped applying, but keeps one another manager added', () => {
    const first = applyConfig(undefined, deployment([{image: 'a', name: 'a'}, {image: 'b', name: 'b'}]), {apiVersion: 'apps/v1', force: false, manager: 'kp', scope: 'main'})
    const edited = {...first, spec: structuredClone(first.spec)} as KubeObject & {spec: {template: {spec: {containers: unknown[]}}}}
    edited.spec.template.spec.containers.push({image: 'c', name: 'c'})
    edited.metadata.managedFields = recordUpdate(first, edited, {apiVersion: 'apps/v1', manager: 'kubectl-edit', scope: 'main'})
    const next = applyConfig(edited, deployment([{image: 'a2', name: 'a'}]), {apiVersion: 'apps/v1', force: false, manager: 'kp', scope: 'main'}) as typeof edited
    expect(next.spec.template.spec.containers).toEqual([{image: 'a2', name: 'a'}, {image: 'c', name: 'c'}])
    expect(next.metadata.managedFields?.map((e) => e.manager)).toEqual(['kp', 'kubectl-edit'])
  })
})
