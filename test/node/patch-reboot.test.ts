/**
 * The reboot step of node-patch, with a fake SSH session and API: a node is never rebooted twice —
 * a new boot id means rebooted already, the marker in /run with the old boot id means asked and not
 * down yet — and a node that does not come back names the snapshot to roll back to.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {UnitContext} from '../../src/lib/engine/types.js'
import type {KpError} from '../../src/lib/errors.js'
import type {SshSession} from '../../src/lib/ssh/types.js'
import type {PatchFacts, PatchParams} from '../../src/lib/workflows/node-patch/facts.js'
import {REBOOT_MARKER} from '../../src/lib/workflows/node-patch/node.js'
import {rebootNode} from '../../src/lib/workflows/node-patch/reboot.js'

interface Node {
  bootIds: string[]
  commands: string[]
  marker: boolean
  reboots: number
}

function fakeSession(node: Node): SshSession {
  return {
    async bootId() {
      return node.bootIds.length > 1 ? node.bootIds.shift()! : node.bootIds[0]!
    },
    async exec(command) {
      const line = Array.isArray(command) ? command.join(' ') : String(command)
      node.commands.push(line)
      if (line.includes(`test -e ${REBOOT_MARKER}`)) return {code: node.marker ? 0 : 1, stderr: '', stdout: ''}
      if (line.includes(`> ${REBOOT_MARKER}`)) node.marker = true
      return {code: 0, stderr: '', stdout: ''}
    },
    async rebootAndWait() {
      node.reboots += 1
      node.marker = false
      node.bootIds = ['after']
      return {bootId: 'after', seconds: 1}
    },
    target: {host: '127.0.0.1', name: 'w1', port: 22, user: 'debian'},
    async upload() {},
  }
}

interface ControlPlane {
  /** /readyz answers that etcd failed this many times first (the member is still starting after the boot). */
  etcdStarting: number
  readyzCalls: number
}

function unit(node: Node, preState: Record<string, unknown> | undefined, options: {controlPlane?: ControlPlane; ready?: boolean} = {}) {
  let state = preState
  const cp = options.controlPlane
  const ready = {metadata: {name: 'w1'}, status: {conditions: [{status: options.ready === false ? 'False' : 'True', type: 'Ready'}], nodeInfo: {kubeletVersion: 'v1.31.8'}}}
  const ctx = {
    dryRun: false,
    facts: {node: ready, order: ['w1'], patch: {kind: 'upgrade', lockSeconds: 1, policy: 'if-required', snapshots: true}, roles: cp ? {w1: 'control-plane'} : {}},
    kube: async () => ({
      getNode: async () => ready,
      async health() {
        cp!.readyzCalls += 1
        return cp!.readyzCalls <= cp!.etcdStarting ? {body: '[+]ping ok\n[-]etcd failed: reason withheld\nreadyz check failed', ok: false, status: 500} : {body: 'ok', ok: true, status: 200}
      },
      listPods: async () => [],
    }),
    log: () => {},
    memo: <T>(_key: string, make: () => T) => make(),
    mutate: async <T>(_d: string, fn: () => Promise<T> | T) => fn(),
    params: {},
    get preState() {
      return state
    },
    preStateOf: (step: string) => (step === 'snapshot' ? {snapshot: 'kp-patch-20261206-111324-ab12'} : step === 'check' ? {idle: false, packages: ['upgrade x 1 → 2'], reboot: true, rebootPackages: []} : undefined),
    recordPreState(s: Record<string, unknown>) {
      state ??= s
    },
    runId: '20261206-111324-ab12',
    signal: new AbortController().signal,
    ssh: async () => fakeSession(node),
    target: 'w1',
  }
  return ctx as unknown as UnitContext<PatchFacts, PatchParams>
}

describe('node-patch: Reboot the node', () => {
  // Every wait of the step (a new boot id, the node Ready) gives up after 1.5 s here.
  beforeAll(() => {
    process.env.KP_PATCH_WAIT_MS = '1500'
  })
  afterAll(() => {
    delete process.env.KP_PATCH_WAIT_MS
  })

  it('the first attempt records the boot id, leaves the marker, then reboots once', async () => {
    const node: Node = {bootIds: ['before'], commands: [], marker: false, reboots: 0}
    const ctx = unit(node, undefined)
    await rebootNode.run(ctx)

    expect(node.reboots).toBe(1)
    expect(ctx.preState).toEqual({bootId: 'before', kubeletVersion: 'v1.31.8'})
    const markerAt = node.commands.findIndex((c) => c.includes(`> ${REBOOT_MARKER}`))
    expect(markerAt).toBeGreaterThanOrEqual(0)
  })

  it('a resume after the reboot happened (new boot id) does not reboot again', async () => {
    const node: Node = {bootIds: ['after'], commands: [], marker: false, reboots: 0}
    await rebootNode.run(unit(node, {bootId: 'before', kubeletVersion: 'v1.31.8'}))
    expect(node.reboots).toBe(0)
  })

  it('a resume after the reboot was asked but before the node went down waits, and does not ask again', async () => {
    const node: Node = {bootIds: ['before', 'before', 'after'], commands: [], marker: true, reboots: 0}
    await rebootNode.run(unit(node, {bootId: 'before', kubeletVersion: 'v1.31.8'}))
    expect(node.reboots).toBe(0)
    expect(node.bootIds).toEqual(['after'])
  })

  it('a resume that was killed before the reboot was asked (no marker, same boot id) reboots', async () => {
    const node: Node = {bootIds: ['before'], commands: [], marker: false, reboots: 0}
    await rebootNode.run(unit(node, {bootId: 'before', kubeletVersion: 'v1.31.8'}))
    expect(node.reboots).toBe(1)
  })

  it('a control plane is back only once /readyz passes again (its etcd member serving): Ready alone is not enough for the uncordon, a write', async () => {
    const node: Node = {bootIds: ['before'], commands: [], marker: false, reboots: 0}
    const controlPlane: ControlPlane = {etcdStarting: 2, readyzCalls: 0}
    await rebootNode.run(unit(node, undefined, {controlPlane}))
    expect(controlPlane.readyzCalls).toBe(3)
  })

  it('a node not Ready after its reboot: the error names it, the runbook section, the rollback command and kp resume', async () => {
    const node: Node = {bootIds: ['before'], commands: [], marker: false, reboots: 0}
    const error = await Promise.resolve(rebootNode.run(unit(node, undefined, {ready: false}))).then(
      () => undefined,
      (e: unknown) => e as KpError,
    )
    expect(error?.message).toMatch(/^w1 is not back after its reboot: .*w1 is not Ready.*It stays cordoned\.$/)
    expect(error?.hint).toContain('runbook section "Reboot the node"')
    expect(error?.hint).toContain('kp vm rollback kp-patch-20261206-111324-ab12 w1')
    expect(error?.hint).toContain('"kp resume"')
  })
})
