/** The pure parts of kp lab: the layout checks, the kp.yaml it writes, fault requests, the SSH key. */
import {spawnSync} from 'node:child_process'
import {readFileSync, statSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {parseConfig} from '../../../src/lib/config/validate.js'
import type {LabState} from '../../../src/lib/lab/cli/control.js'
import {ensureSshKey, ensureTokenSecret, labPaths} from '../../../src/lib/lab/cli/files.js'
import {buildFaultRequest, type FaultFlags} from '../../../src/lib/lab/cli/inspect.js'
import {labConfig, labVersions, layoutProblem, writeLabConfig} from '../../../src/lib/lab/cli/lab-config.js'
import {tempDir} from '../../helpers/cli.js'

const endpoints = {apiUrl: 'https://10.77.0.1:8006/api2/json', fingerprint: Array.from({length: 32}, () => 'AB').join(':'), repoBaseUrl: 'http://10.77.0.1:8080', repoKeyFingerprint: '3F01618A51501E0B3B1A5AC540C87B3B7E389B2D'}

describe('the lab layout', () => {
  it.for([
    [{controlPlanes: 1, kubernetesVersion: '1.31.8', nodes: 0}, '--nodes must be 1 to 20'],
    [{controlPlanes: 4, kubernetesVersion: '1.31.8', nodes: 3}, '--control-planes must be 1 to --nodes (3)'],
    [{controlPlanes: 2, kubernetesVersion: '1.31.8', nodes: 3}, '--control-planes must be odd (1, 3, 5…)'],
    [{controlPlanes: 1, kubernetesVersion: '1.29.1', nodes: 3}, "the lab's package repositories (Kubernetes 1.30, 1.31, 1.32, 1.33) have no 1.29.1"],
  ] as const)('refuses %j: %s', ([layout, message]) => {
    expect(layoutProblem(layout)).toContain(message)
  })

  it('writes a kp.yaml that validates for every size and version the lab offers', () => {
    for (const kubernetesVersion of labVersions()) {
      for (const [nodes, controlPlanes] of [[1, 1], [3, 1], [5, 3], [20, 3]] as const) {
        const config = labConfig('lab', {controlPlanes, kubernetesVersion, nodes}, endpoints)
        const parsed = parseConfig(config)
        expect(parsed.ok, JSON.stringify(parsed)).toBe(true)
        expect(config.nodes.filter((n) => n.role === 'control-plane')).toHaveLength(controlPlanes)
        expect(new Set(config.nodes.map((n) => n.ip)).size).toBe(nodes)
      }
    }
  })

  it('points kp.yaml at the lab folder for secrets, key and known_hosts, and at the lab repositories', () => {
    const paths = labPaths(tempDir('kp-lab-unit-'))
    writeLabConfig(paths, 'lab', {controlPlanes: 1, kubernetesVersion: '1.32.5', nodes: 2}, endpoints)
    const text = readFileSync(paths.config, 'utf8')
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=./kp.schema.json')
    expect(text).toContain('tokenSecret: {file: ./secrets/pve-token}')
    expect(text).toContain('identityFile: ./ssh/id_ed25519')
    expect(text).toContain('knownHostsFile: ./known_hosts')
    expect(text).toContain('kubernetesRepoBase: "http://10.77.0.1:8080/core:/stable:"')
    // Served over http: the key is pinned, or kp.yaml would not validate.
    expect(text).toContain('kubernetesKeyFingerprint: 3F01618A51501E0B3B1A5AC540C87B3B7E389B2D')
    expect(text).toContain('endpoint: https://10.77.0.1:8006\n')
  })
})

describe('the lab secrets', () => {
  it('creates the token secret and the SSH key once, mode 0600, in formats OpenSSH reads', () => {
    const paths = labPaths(tempDir('kp-lab-unit-'))
    const secret = ensureTokenSecret(paths)
    expect(ensureTokenSecret(paths)).toBe(secret)
    expect(secret).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
    expect(statSync(paths.tokenSecret).mode & 0o777).toBe(0o600)
    const key = ensureSshKey(paths)
    expect(ensureSshKey(paths)).toEqual(key)
    expect(statSync(key.privateKeyFile).mode & 0o777).toBe(0o600)
    const derived = spawnSync('ssh-keygen', ['-y', '-f', key.privateKeyFile], {encoding: 'utf8'})
    expect(derived.status, derived.stderr).toBe(0)
    expect(derived.stdout.split(' ').slice(0, 2)).toEqual(key.publicKey.split(' ').slice(0, 2))
    expect(path.basename(key.privateKeyFile)).toBe('id_ed25519')
  })
})

describe('kp lab fault flags', () => {
  const state: LabState = {
    faults: {cloneLock: {mode: 'exclusive'}, errors: [{rate: 0.5}]},
    vms: [
      {booted: false, faults: {}, name: 'debian-12-cloudinit', node: 'pve', running: false, template: true, vmid: 9000},
      {booted: true, faults: {rebootDelaySeconds: 9}, ip: '10.77.0.11', name: 'cp1', node: 'pve', running: true, template: false, vmid: 201},
      {booted: true, faults: {}, ip: '10.77.0.12', name: 'w1', node: 'pve', running: true, template: false, vmid: 202},
    ],
  }

  it('keeps the other API faults when one is added, and leaves the clone lock to the supervisor', () => {
    expect(buildFaultRequest(state, {apiLatency: '100-800', nodes: []})).toEqual({proxmox: {errors: [{rate: 0.5}], latency: [{ms: [100, 800]}]}})
  })

  it('turns an API fault off with 0', () => {
    expect(buildFaultRequest(state, {apiErrorRate: 0, nodes: []})).toEqual({proxmox: {errors: []}})
  })

  it("adds Proxmox's lock contention beside the error rate, and failures after the work with --api-error-after", () => {
    const request = buildFaultRequest(state, {apiErrorAfter: true, apiErrorRate: 0.3, apiErrorStatus: 503, apiLockContention: 0.1, nodes: []})
    expect(request.proxmox?.errors).toEqual([{after: true, rate: 0.3, status: 503}, {lockContention: true, rate: 0.1}])
    const withLock = {...state, faults: {errors: [{lockContention: true, rate: 0.1}]}}
    expect(buildFaultRequest(withLock, {apiErrorRate: 0.2, nodes: []}).proxmox?.errors).toEqual([{lockContention: true, rate: 0.1}, {rate: 0.2, status: 500}])
    expect(buildFaultRequest(withLock, {apiLockContention: 0, nodes: []}).proxmox?.errors).toEqual([])
  })

  it('addresses VMs by name or VMID', () => {
    expect(buildFaultRequest(state, {agentDown: true, nodes: ['cp1', '202']})).toEqual({vms: {201: {agentSilent: true}, 202: {agentSilent: true}}})
    expect(buildFaultRequest(state, {dropSsh: true, nodes: ['w1']})).toEqual({dropSsh: [202], vms: {202: {}}})
  })

  it('clears everything: API faults and every VM that has faults', () => {
    expect(buildFaultRequest(state, {clear: true, nodes: []})).toEqual({
      proxmox: {},
      vms: {201: {agentSilent: false, dpkgLock: false, kubeletNotReadyAfterReboot: false, noBoot: false, rebootDelaySeconds: undefined}},
    })
  })

  it('sets the patch faults on the VMs named: a boot that hangs, a held dpkg lock, a kubelet NotReady after reboot', () => {
    expect(buildFaultRequest(state, {noBoot: true, nodes: ['cp1']})).toEqual({vms: {201: {noBoot: true}}})
    expect(buildFaultRequest(state, {dpkgLock: true, nodes: ['w1', '201']})).toEqual({vms: {201: {dpkgLock: true}, 202: {dpkgLock: true}}})
    expect(buildFaultRequest(state, {dpkgUnlock: true, nodes: ['w1']})).toEqual({vms: {202: {dpkgLock: false}}})
    expect(buildFaultRequest(state, {kubeletNotReadyAfterReboot: true, nodes: ['w1']})).toEqual({vms: {202: {kubeletNotReadyAfterReboot: true}}})
    expect(() => buildFaultRequest(state, {dpkgLock: true, dpkgUnlock: true, nodes: ['w1']})).toThrow(/contradict/)
    expect(() => buildFaultRequest(state, {noBoot: true, nodes: []})).toThrow(/name the nodes/)
  })

  it.for([
    [{agentDown: true, nodes: []}, 'name the nodes the fault is for'],
    [{nodes: ['cp1']}, 'say which fault the nodes get'],
    [{agentDown: true, agentUp: true, nodes: ['cp1']}, 'contradict'],
    [{apiErrorRate: 2, nodes: []}, '--api-error-rate must be between 0 and 1'],
    [{apiLatency: 'slow', nodes: []}, '--api-latency must be milliseconds'],
    [{agentDown: true, nodes: ['debian-12-cloudinit']}, 'the lab has no VM "debian-12-cloudinit"'],
    [{blockPdb: ['default/web'], nodes: []}, 'the lab runs no Kubernetes API'],
  ] as ReadonlyArray<readonly [FaultFlags, string]>)('refuses %j', ([flags, message]) => {
    expect(() => buildFaultRequest(state, flags)).toThrow(message)
  })
})

describe('kp lab fault flags for the Kubernetes API', () => {
  const state: LabState = {
    faults: {},
    kube: {
      faults: {latency: [{ms: 50}]},
      kubeletDown: ['w2'],
      nodes: [{name: 'cp1', ready: true, unschedulable: false}, {name: 'w1', ready: true, unschedulable: false}, {name: 'w2', ready: false, unschedulable: false}],
    },
    vms: [{booted: true, faults: {}, ip: '10.77.0.11', name: 'cp1', node: 'pve', running: true, template: false, vmid: 201}],
  }

  it('adds blocking PDBs and stuck pods to the faults the API has', () => {
    expect(buildFaultRequest(state, {blockPdb: ['default/web'], nodes: [], stuckPod: ['default/debug']})).toEqual({
      kube: {blockPdbs: ['default/web'], latency: [{ms: 50}], stuckPods: ['default/debug']},
    })
    expect(buildFaultRequest(state, {kubeErrorRate: 0.2, kubeErrorStatus: 503, kubeLatency: '0', nodes: []})).toEqual({kube: {errors: [{rate: 0.2, status: 503}], latency: []}})
  })

  it('silences kubelets of nodes that have no VM, and brings them back with --clear', () => {
    expect(buildFaultRequest(state, {kubeletDown: true, nodes: ['w1']})).toEqual({kubelets: {w1: true}})
    expect(buildFaultRequest(state, {clear: true, nodes: []})).toEqual({kube: {}, kubelets: {w2: false}, proxmox: {}})
  })

  it.for([
    [{kubeletDown: true, nodes: []}, 'name the nodes the fault is for'],
    [{kubeletDown: true, nodes: ['nosuch']}, 'has no node "nosuch"'],
    [{kubeletDown: true, kubeletUp: true, nodes: ['w1']}, 'contradict'],
    [{blockPdb: ['web'], nodes: []}, '--block-pdb takes NAMESPACE/NAME'],
    [{kubeErrorRate: Number.NaN, nodes: []}, '--kube-error-rate must be between 0 and 1'],
    [{kubeLatency: 'slow', nodes: []}, '--kube-latency must be milliseconds'],
  ] as ReadonlyArray<readonly [FaultFlags, string]>)('refuses %j', ([flags, message]) => {
    expect(() => buildFaultRequest(state, flags)).toThrow(message)
  })
})

describe('kp lab fault --etcd-down/--etcd-up', () => {
  const member = (name: string, vmid: number) => ({clientURL: 'https://x:2379', healthy: true, leader: false, name, peerURL: 'https://x:2380', vmid})
  const state: LabState = {
    etcd: {clusters: [{members: [member('cp1', 201)], name: 'lab'}], down: ['cp1']},
    faults: {},
    vms: [
      {booted: true, faults: {}, ip: '10.77.0.11', name: 'cp1', node: 'pve', running: true, template: false, vmid: 201},
      {booted: true, faults: {}, ip: '10.77.0.12', name: 'w1', node: 'pve', running: true, template: false, vmid: 202},
    ],
  }

  it('addresses members by VM name or VMID; --clear starts every stopped member again', () => {
    expect(buildFaultRequest(state, {etcdDown: true, nodes: ['cp1']})).toEqual({etcd: {201: true}})
    expect(buildFaultRequest(state, {etcdUp: true, nodes: ['201']})).toEqual({etcd: {201: false}})
    expect(buildFaultRequest(state, {clear: true, nodes: []})).toEqual({etcd: {201: false}, proxmox: {}})
  })

  it.for([
    [{etcdDown: true, nodes: []}, 'name the nodes the fault is for'],
    [{etcdDown: true, etcdUp: true, nodes: ['cp1']}, '--etcd-down and --etcd-up contradict each other'],
    [{etcdDown: true, nodes: ['w1']}, 'w1 runs no etcd member'],
  ] as ReadonlyArray<readonly [FaultFlags, string]>)('refuses %j', ([flags, message]) => {
    expect(() => buildFaultRequest(state, flags)).toThrow(message)
  })

  it('refuses when the lab runs no etcd', () => {
    expect(() => buildFaultRequest({...state, etcd: undefined}, {etcdDown: true, nodes: ['cp1']})).toThrow('the lab runs no etcd')
  })
})

describe('kp lab fault --upgrade-apply-fails', () => {
  const member = (name: string, vmid: number) => ({clientURL: 'https://x:2379', healthy: true, leader: false, name, peerURL: 'https://x:2380', vmid})
  const state: LabState = {
    etcd: {clusters: [{members: [member('cp1', 201)], name: 'lab'}], down: [], upgradeApplyFails: ['cp1']},
    faults: {},
    vms: [
      {booted: true, faults: {}, ip: '10.77.0.11', name: 'cp1', node: 'pve', running: true, template: false, vmid: 201},
      {booted: true, faults: {}, ip: '10.77.0.12', name: 'w1', node: 'pve', running: true, template: false, vmid: 202},
    ],
  }

  it('is set on a control plane by name or VMID and cleared by --clear', () => {
    expect(buildFaultRequest(state, {nodes: ['cp1'], upgradeApplyFails: true})).toEqual({upgradeApplyFails: {201: true}})
    expect(buildFaultRequest(state, {nodes: ['201'], upgradeApplyFails: true})).toEqual({upgradeApplyFails: {201: true}})
    expect(buildFaultRequest(state, {clear: true, nodes: []})).toEqual({proxmox: {}, upgradeApplyFails: {201: false}})
  })

  it('refuses a worker and a missing node', () => {
    expect(() => buildFaultRequest(state, {nodes: ['w1'], upgradeApplyFails: true})).toThrow('w1 is not a control plane')
    expect(() => buildFaultRequest(state, {nodes: [], upgradeApplyFails: true})).toThrow('name the nodes the fault is for')
  })
})
