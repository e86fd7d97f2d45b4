/** State and PKI survive a restart: objects, resourceVersions, and the old kubeconfig still works. */
import {mkdtempSync, readFileSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import type {KubeList, Node} from '../../../src/lib/lab/kube/index.js'
import {call, startTestKube} from './helpers.js'

describe('persistence', () => {
  it('reloads objects and the resourceVersion counter from the state file, with the same CA', async () => {
    // Given
    const dir = mkdtempSync(path.join(tmpdir(), 'kp-fake-kube-'))
    const first = await startTestKube({controllerIntervalMs: 0}, dir)
    first.kube.seedDemo({nodes: ['cp1', 'w1']})
    await call(first.kube, 'PATCH', '/api/v1/nodes/w1', {spec: {unschedulable: true}}, {contentType: 'application/strategic-merge-patch+json'})
    const rv = ((await call(first.kube, 'GET', '/api/v1/nodes')).body as KubeList).metadata.resourceVersion
    const caPem = first.kube.caPem
    await first.kube.close()
    expect(statSync(path.join(dir, 'kubeconfig')).mode & 0o777).toBe(0o600)
    expect(JSON.parse(readFileSync(first.stateFile, 'utf8'))).toMatchObject({version: 1})

    // When
    const second = await startTestKube({controllerIntervalMs: 0}, dir)
    try {
      // Then
      expect(second.kube.caPem).toBe(caPem)
      const node = await call(second.kube, 'GET', '/api/v1/nodes/w1')
      expect((node.body as Node).spec?.unschedulable).toBe(true)
      const list = (await call(second.kube, 'GET', '/api/v1/pods')).body as KubeList
      expect(Number(list.metadata.resourceVersion)).toBeGreaterThanOrEqual(Number(rv))
      expect(list.items.length).toBeGreaterThan(5)
      expect(readFileSync(path.join(dir, 'kube-requests.jsonl'), 'utf8').trim().split('\n').length).toBeGreaterThanOrEqual(3)
    } finally {
      await second.kube.close()
    }
  })
})
