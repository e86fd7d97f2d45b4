/**
 * The workloads the maintenance lab tests (node patch, upgrade) run while kp works: two Deployments
 * of 3 replicas with a budget each, and the real kubectl sampling their ready replicas every second.
 */
import {sampleEvery, until} from '../host/helpers.js'
import type {labKubectl} from './helpers.js'

type Kubectl = ReturnType<typeof labKubectl>

/** The least ready replicas each budget allows: web `minAvailable: 2`, api `maxUnavailable: 1` of 3. */
export const SHOP_BUDGETS = {api: 2, web: 2} as const

/** The shop namespace's Deployments and budgets; `graceSeconds` shortens how long an evicted pod takes to go. */
export function shopWorkloads(graceSeconds?: number): string {
  const grace = graceSeconds === undefined ? '' : `terminationGracePeriodSeconds: ${graceSeconds}, `
  return `
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {${grace}containers: [{name: web, image: nginx:1.27}]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: shop}
spec: {minAvailable: 2, selector: {matchLabels: {app: web}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {${grace}containers: [{name: api, image: registry.k8s.io/pause:3.10}]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: api, namespace: shop}
spec: {maxUnavailable: 1, selector: {matchLabels: {app: api}}}
`
}

export interface ShopSample {
  /** Ready replicas per Deployment; absent when kubectl got no answer. */
  ready?: Record<string, number>
}

async function readyReplicas(kubectl: Kubectl): Promise<Record<string, number> | undefined> {
  const out = await kubectl(['get', 'deployments', '-n', 'shop', '-o', 'json'])
  if (out.code !== 0) return undefined
  const items = (JSON.parse(out.stdout) as {items: Array<{metadata: {name: string}; status: {readyReplicas?: number}}>}).items
  return Object.fromEntries(items.map((d) => [d.metadata.name, d.status.readyReplicas ?? 0]))
}

/** The real kubectl, once a second until stopped: each Deployment's ready replicas. */
export const sampleShop = (kubectl: Kubectl) => sampleEvery(1000, async (): Promise<ShopSample> => ({ready: await readyReplicas(kubectl)}))

/** Applies the shop and waits until every replica is ready. */
export async function startShop(kubectl: Kubectl, graceSeconds?: number): Promise<void> {
  const apply = await kubectl(['apply', '-f', '-'], shopWorkloads(graceSeconds))
  if (apply.code !== 0) throw new Error(`kubectl apply of the shop: ${apply.stderr}`)
  await until('the workloads available', async () => {
    const ready = await readyReplicas(kubectl)
    return ready !== undefined && Object.keys(ready).length === 2 && Object.values(ready).every((n) => n === 3)
  }, 180_000)
}

/** The least ready replicas seen per Deployment, and how many samples had an answer. */
export function lowestReady(samples: ShopSample[]): {answered: number; lowest: Record<string, number>} {
  const answered = samples.filter((s) => s.ready)
  const lowest = Object.fromEntries(Object.keys(SHOP_BUDGETS).map((d) => [d, Math.min(...answered.map((s) => s.ready![d] ?? 0))]))
  return {answered: answered.length, lowest}
}
