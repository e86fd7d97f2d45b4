/**
 * The last step of node-patch on one node, with a fake API and SSH session: it uncordons only a
 * node that was schedulable before the drain, and waits for the workloads that were whole before
 * the node was touched — not for one that was already short (that wait would time out on every
 * node, holding the rollout hostage to an unrelated broken Deployment).
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {UnitContext} from '../../src/lib/engine/types.js'
import type {KubeDeployment, KubePdb} from '../../src/lib/kube/types.js'
import type {PatchFacts, PatchParams} from '../../src/lib/workflows/node-patch/facts.js'
import {uncordonNode} from '../../src/lib/workflows/node-patch/uncordon.js'

const REPORT = 'boot-id=1\nreboot-required=0\nreboot-pkgs=\nheld=kubeadm kubectl kubelet \ndpkg-interrupted=0\nsimulate-exit=0\n--- apt-get -s\n0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n'

const deployment = (name: string, available: number): KubeDeployment => ({metadata: {name, namespace: 'shop'}, spec: {replicas: 3}, status: {availableReplicas: available}}) as KubeDeployment
const pdb = (name: string, healthy: number): KubePdb => ({metadata: {name, namespace: 'shop'}, status: {currentHealthy: healthy, desiredHealthy: 2, disruptionsAllowed: 0, expectedPods: 3}})

interface World {
  /** What the API answers on each poll, oldest first; the last one stays. */
  deployments: KubeDeployment[][]
  pdbs: KubePdb[]
  uncordoned: string[]
}

function unit(world: World, drained: {cordoned: boolean}, unhealthyBefore: string[]) {
  const ctx = {
    dryRun: false,
    facts: {order: ['w1'], patch: {kind: 'upgrade', lockSeconds: 1, policy: 'if-required', snapshots: true}, roles: {w1: 'worker'}},
    config: {config: {nodes: [{name: 'w1', role: 'worker'}]}},
    kube: async () => ({
      getNode: async () => ({metadata: {name: 'w1'}, spec: {unschedulable: true}}),
      listDeployments: async () => (world.deployments.length > 1 ? world.deployments.shift()! : world.deployments[0]!),
      listPdbs: async () => world.pdbs,
      setUnschedulable: async (name: string, value: boolean) => void (value ? undefined : world.uncordoned.push(name)),
    }),
    log: () => {},
    memo: <T>(_key: string, make: () => T) => make(),
    mutate: async <T>(_d: string, fn: () => Promise<T> | T) => fn(),
    params: {},
    preState: undefined,
    preStateOf: (step: string) => (step === 'drain' ? drained : step === 'check' ? {idle: false, packages: ['upgrade x'], reboot: false, rebootPackages: [], unhealthyBefore} : undefined),
    recordPreState() {},
    runId: 'r1',
    signal: new AbortController().signal,
    ssh: async () => ({exec: async () => ({code: 0, stderr: '', stdout: REPORT}), target: {host: '127.0.0.1', name: 'w1', port: 22, user: 'debian'}}),
    target: 'w1',
  }
  return ctx as unknown as UnitContext<PatchFacts, PatchParams>
}

describe('node-patch: Uncordon the node and wait for its workloads', () => {
  beforeAll(() => {
    process.env.KP_PATCH_WAIT_MS = '2500'
  })
  afterAll(() => {
    delete process.env.KP_PATCH_WAIT_MS
  })

  it('uncordons a node that was schedulable, and waits until its workloads are whole again', async () => {
    const world: World = {deployments: [[deployment('web', 2)], [deployment('web', 3)]], pdbs: [pdb('web', 3)], uncordoned: []}
    await uncordonNode.run(unit(world, {cordoned: false}, []))
    expect(world.uncordoned).toEqual(['w1'])
    expect(world.deployments).toEqual([[deployment('web', 3)]])
  })

  it('leaves a node the operator had cordoned cordoned', async () => {
    const world: World = {deployments: [[deployment('web', 3)]], pdbs: [], uncordoned: []}
    await uncordonNode.run(unit(world, {cordoned: true}, []))
    expect(world.uncordoned).toEqual([])
  })

  it('does not wait for a workload that was already short before the node was touched', async () => {
    const world: World = {deployments: [[deployment('web', 3), deployment('broken', 0)]], pdbs: [pdb('broken', 0)], uncordoned: []}
    await uncordonNode.run(unit(world, {cordoned: false}, ['Deployment shop/broken', 'PodDisruptionBudget shop/broken']))
    expect(world.uncordoned).toEqual(['w1'])
  })

  it('fails naming a workload that was whole before and is not back by the deadline', async () => {
    const world: World = {deployments: [[deployment('web', 1)]], pdbs: [pdb('web', 1)], uncordoned: []}
    await expect(uncordonNode.run(unit(world, {cordoned: false}, []))).rejects.toThrow(/PodDisruptionBudget shop\/web has 1 of 2 healthy pods/)
  })
})
