/**
 * A fake Kubernetes API seeded with the demo workloads (cp1, w1, w2), a kp.yaml pointing at it,
 * and readers over the fake's state and request log, for the node cordon/uncordon/drain tests.
 */
import {existsSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import path from 'node:path'

import type {Journal} from '../../src/lib/engine/journal.js'
import {type KubeRequestLogEntry, type Node, type Pod, RESOURCES} from '../../src/lib/lab/kube/index.js'
import {startTestKube, type TestKube, until} from '../lab/kube/helpers.js'
import {runKp, spawnKp} from '../helpers/cli.js'
import {writeTestConfig} from '../helpers/config.js'

export interface World {
  config: string
  env: NodeJS.ProcessEnv
  stateDir: string
  t: TestKube
}

export const EVICTION = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/eviction$/
const POD_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/

/** Every pod Running and Ready: the demo has settled. */
export function settled(t: TestKube): boolean {
  const pods = t.kube.list<Pod>('pods')
  return pods.length > 0 && pods.every((p) => p.spec.nodeName && p.status?.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
}

/** A settled demo cluster: the first node of `nodes` is the control plane. */
export async function startDemo(dir?: string, nodes = ['cp1', 'w1', 'w2']): Promise<TestKube> {
  const t = await startTestKube({}, dir)
  if (dir === undefined) t.kube.seedDemo({nodes})
  await until('the demo pods to run', () => settled(t))
  return t
}

export async function world(options: {nodes?: string[]} = {}): Promise<World> {
  const t = await startDemo(undefined, options.nodes)
  const stateDir = path.join(t.dir, 'state')
  // Refused evictions are retried every 100 ms instead of 2 s, so the tests stay short.
  return {config: writeTestConfig(t.dir, {kubeconfig: t.kubeconfig}), env: {KP_DRAIN_RETRY_MS: '100', KP_STATE_DIR: stateDir}, stateDir, t}
}

/** Stop the fake and remove its folder (state, kubeconfig, kp.yaml, kp's state dir). */
export async function stop(t: TestKube): Promise<void> {
  await t.kube.close()
  rmSync(t.dir, {force: true, recursive: true})
}

export function kp(w: World, args: string[]) {
  return runKp([...args, '-c', w.config], {env: w.env})
}

export function startKp(w: World, args: string[]) {
  return spawnKp([...args, '-c', w.config], {env: w.env})
}

export function podsOn(t: TestKube, node: string): Pod[] {
  return t.kube.list<Pod>('pods').filter((p) => p.spec.nodeName === node)
}

export const idOf = (p: Pod): string => `${p.metadata.namespace ?? 'default'}/${p.metadata.name}`
export const isDaemonSetPod = (p: Pod): boolean => p.metadata.ownerReferences?.some((r) => r.controller && r.kind === 'DaemonSet') ?? false

export function cordoned(t: TestKube, node: string): boolean {
  return t.kube.get<Node>('nodes', undefined, node)?.spec?.unschedulable === true
}

/** Cordon behind kp's back, as an operator with kubectl would. */
export function cordonByHand(t: TestKube, node: string): void {
  t.kube.cluster.patch(RESOURCES.find((r) => r.name === 'nodes')!, undefined, node, 'application/merge-patch+json', {spec: {unschedulable: true}})
}

export function patchPdb(t: TestKube, name: string, spec: Record<string, unknown>): void {
  t.kube.cluster.patch(RESOURCES.find((r) => r.name === 'poddisruptionbudgets')!, 'default', name, 'application/merge-patch+json', {spec})
}

/** ns/name of the pods evicted (POST …/eviction answered 201) or deleted (DELETE answered 200), sorted. */
export function removed(log: readonly KubeRequestLogEntry[]): string[] {
  const out = log.flatMap((e) => {
    const eviction = e.method === 'POST' && e.status === 201 ? EVICTION.exec(e.path) : null
    const deletion = e.method === 'DELETE' && e.status === 200 ? POD_PATH.exec(e.path) : null
    const m = eviction ?? deletion
    return m ? [`${m[1]}/${m[2]}`] : []
  })
  return out.sort()
}

export function writes(log: readonly KubeRequestLogEntry[]): string[] {
  return log.filter((e) => e.method !== 'GET').map((e) => `${e.method} ${e.path}`)
}

export function journals(w: World): Journal[] {
  const runs = path.join(w.stateDir, 'runs')
  if (!existsSync(runs)) return []
  return readdirSync(runs)
    .sort()
    .flatMap((id) => {
      try {
        return [JSON.parse(readFileSync(path.join(runs, id, 'journal.json'), 'utf8')) as Journal]
      } catch {
        return []
      }
    })
}

export function unitOf(journal: Journal | undefined, step: string) {
  return journal?.steps.find((s) => s.id === step)?.units[0]
}
