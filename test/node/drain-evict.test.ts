/** The eviction loop against a tiny in-memory Kube: bounded requests, no starvation, the deadline's message. */
import {describe, expect, it} from 'vitest'

import {StepFailedError} from '../../src/lib/errors.js'
import {KubeApiError} from '../../src/lib/kube/errors.js'
import type {Kube, KubePdb, KubePod} from '../../src/lib/kube/types.js'
import {classifyPods} from '../../src/lib/workflows/node-drain/classify.js'
import type {DrainSettings} from '../../src/lib/workflows/node-drain/facts.js'
import {CONCURRENCY, removePods} from '../../src/lib/workflows/node-drain/evict.js'

const SETTINGS: DrainSettings = {deleteEmptydirData: false, disableEviction: false, force: false, skipWaitForDeleteTimeoutSeconds: 0, timeoutMs: 400}

function pod(name: string, app: string): KubePod {
  return {metadata: {labels: {app}, name, namespace: 'default', ownerReferences: [{apiVersion: 'apps/v1', controller: true, kind: 'ReplicaSet', name: app, uid: app}], uid: `uid-${name}`}, spec: {containers: [], nodeName: 'w1'}, status: {phase: 'Running'}}
}

const WEB_PDB = {metadata: {name: 'web', namespace: 'default'}, spec: {selector: {matchLabels: {app: 'web'}}}, status: {currentHealthy: 22, desiredHealthy: 22, disruptionsAllowed: 0, expectedPods: 24}} as KubePdb

/** Evictions of app=web pods are refused (429) like a blocked budget; the rest go at once. */
function fakeKube(pods: KubePod[]) {
  const present = new Map(pods.map((p) => [p.metadata!.name!, p]))
  const stats = {inFlight: 0, maxInFlight: 0}
  const kube = {
    async evictPod(_namespace: string, name: string) {
      stats.inFlight++
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight)
      await new Promise((r) => setTimeout(r, 5))
      stats.inFlight--
      if (present.get(name)?.metadata?.labels?.app === 'web') {
        throw new KubeApiError(`evict pod default/${name}: 429 Cannot evict pod as it would violate the pod's disruption budget.`, {
          status: 429,
          statusBody: {details: {causes: [{message: 'The disruption budget web needs 22 healthy pods and has 22 currently', reason: 'DisruptionBudget'}]}},
          transient: true,
        })
      }

      present.delete(name)
    },
    async listPdbs() {
      return [WEB_PDB]
    },
    async listPods() {
      return [...present.values()]
    },
  }
  return {kube: kube as unknown as Kube, present, stats}
}

const ctx = {log: () => {}, mutate: async <T>(_what: string, fn: () => Promise<T> | T) => fn(), signal: new AbortController().signal}

describe('removing the pods', () => {
  it('evicts everything with at most CONCURRENCY requests in flight', async () => {
    const pods = Array.from({length: 60}, (_, i) => pod(`api-${i}`, 'api'))
    const {kube, present, stats} = fakeKube(pods)
    const plan = classifyPods(pods, [], new Set(), SETTINGS)

    const result = await removePods({ctx, deadline: Date.now() + 10_000, entries: plan.pods, kube, node: 'w1', retryMs: 20, settings: SETTINGS})

    expect(result).toEqual({deleted: 0, evicted: 60, skipped: []})
    expect(present.size).toBe(0)
    expect(stats.maxInFlight).toBe(CONCURRENCY)
  })

  it('lets blocked pods wait without holding up the others, then names the budget and its pods at the deadline', async () => {
    const web = Array.from({length: 24}, (_, i) => pod(`web-${String(i).padStart(2, '0')}`, 'web'))
    const api = Array.from({length: 24}, (_, i) => pod(`api-${i}`, 'api'))
    const {kube, present} = fakeKube([...web, ...api])
    const plan = classifyPods([...web, ...api], [WEB_PDB], new Set(), SETTINGS)

    const error = await removePods({ctx, deadline: Date.now() + 400, entries: plan.pods, kube, node: 'w1', retryMs: 20, settings: SETTINGS}).catch((e: unknown) => e)

    expect(error).toBeInstanceOf(StepFailedError)
    expect((error as Error).message).toBe(`timed out after 400ms waiting for evictions; PodDisruptionBudget default/web allows 0 disruptions (needs 22 healthy pods and has 22) — blocking pods ${web.map((p) => `default/${p.metadata!.name}`).join(', ')}`)
    expect([...present.keys()].sort()).toEqual(web.map((p) => p.metadata!.name).sort())
  })
})
