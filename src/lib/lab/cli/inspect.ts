/**
 * What `kp lab status` reports and what `kp lab fault` changes, both through the supervisor's control
 * socket, plus the checks that need no supervisor (the bridge, leftover processes).
 */
import {existsSync} from 'node:fs'

import {UsageError} from '../../errors.js'
import type {ErrorFault} from '../proxmox/faults.js'
import {callSupervisor, type FaultRequest, type FaultResult, type LabState, type LabVm} from './control.js'
import {labPaths} from './files.js'
import {liveStatus, readStatus, type SupervisorStatus} from './status.js'
import {labDir} from './up.js'

export interface LabStatusResult {
  dir: string
  state: 'down' | 'starting' | 'ready' | 'failed' | 'stopping'
  supervisor?: Omit<SupervisorStatus, 'caPem'>
  components: Array<{name: string; detail: string; ok: boolean}>
  vms: LabVm[]
  faults?: LabState['faults']
  kube?: LabState['kube']
  etcd?: LabState['etcd']
}

export async function labStatus(stateDir: string): Promise<LabStatusResult> {
  const paths = labPaths(labDir(stateDir))
  const status = readStatus(paths.status)
  const live = liveStatus(paths.status)
  if (!live) {
    const state = status?.phase === 'failed' ? 'failed' : 'down'
    return {components: [], dir: paths.dir, state, ...(status ? {supervisor: withoutCa(status)} : {}), vms: []}
  }

  if (live.phase !== 'ready') return {components: [{detail: `pid ${live.pid}, ${live.phase}`, name: 'supervisor', ok: true}], dir: paths.dir, state: live.phase === 'stopping' ? 'stopping' : 'starting', supervisor: withoutCa(live), vms: []}
  const lab = await callSupervisor<LabState>(paths.socket, 'GET', '/status')
  const components = [
    {detail: `pid ${live.pid}, up since ${live.startedAt}`, name: 'supervisor', ok: true},
    {detail: '10.77.0.1/24 (kplab0)', name: 'bridge', ok: existsSync('/sys/class/net/kplab0')},
    {detail: `${live.apiUrl ?? ''}  SHA-256 ${live.fingerprint ?? ''}`, name: 'proxmox api', ok: true},
    {detail: live.repoBaseUrl ?? '', name: 'packages', ok: true},
    {detail: 'apt-cacher-ng on 10.77.0.1:3142', name: 'apt proxy', ok: true},
    ...(live.kubeUrl ? [{detail: `${live.kubeUrl}  kubeconfig ${paths.kubeconfig}`, name: 'kubernetes api', ok: true}] : []),
  ]
  return {components, dir: paths.dir, ...(lab.etcd ? {etcd: lab.etcd} : {}), faults: lab.faults, ...(lab.kube ? {kube: lab.kube} : {}), state: 'ready', supervisor: withoutCa(live), vms: lab.vms}
}

function withoutCa(status: SupervisorStatus): Omit<SupervisorStatus, 'caPem'> {
  const {caPem: _ca, ...rest} = status
  return rest
}

/** Applies `kp lab fault` flags to the running lab; refuses clearly when there is none. */
export async function labFault(stateDir: string, flags: FaultFlags): Promise<FaultResult> {
  const paths = labPaths(labDir(stateDir))
  const live = liveStatus(paths.status)
  if (live?.phase !== 'ready') throw new UsageError(`no lab is running in ${paths.dir}`, {hint: 'start one with kp lab up'})
  const current = await callSupervisor<LabState>(paths.socket, 'GET', '/status')
  return callSupervisor<FaultResult>(paths.socket, 'POST', '/faults', buildFaultRequest(current, flags))
}

/** A VM by name or VMID among the lab's VMs. */
export function resolveVm(vms: readonly LabVm[], ref: string): LabVm {
  const vm = vms.find((v) => !v.template && (v.name === ref || String(v.vmid) === ref))
  if (!vm) {
    const known = vms.filter((v) => !v.template).map((v) => `${v.name} (${v.vmid})`)
    throw new UsageError(`the lab has no VM "${ref}"`, {hint: known.length > 0 ? `its VMs: ${known.join(', ')}` : 'it has no VMs yet: seed them first (kp vm seed)'})
  }

  return vm
}

export interface FaultFlags {
  agentDown?: boolean
  agentUp?: boolean
  /** `ns/name` of PodDisruptionBudgets that refuse every eviction. */
  blockPdb?: readonly string[]
  /** The failing calls are carried out, only their answer is lost. */
  apiErrorAfter?: boolean
  apiErrorRate?: number
  apiErrorMethod?: string
  /** Fraction of the calls on a VM that Proxmox refuses with its lock timeout. */
  apiLockContention?: number
  apiErrorStatus?: number
  apiLatency?: string
  clear?: boolean
  dropNextSsh?: number
  dropSsh?: boolean
  /** A process in the VMs holds dpkg's locks (lock-frontend and lock); --dpkg-unlock ends it. */
  dpkgLock?: boolean
  dpkgUnlock?: boolean
  /** After their next boot the nodes' kubelet runs but the node stays NotReady. */
  kubeletNotReadyAfterReboot?: boolean
  /** The VMs' next boot hangs: running for Proxmox, unreachable, until a snapshot rollback or --clear. */
  noBoot?: boolean
  /** Stop the nodes' etcd member and keep it stopped. */
  etcdDown?: boolean
  /** The nodes' kube-apiserver exits at once from its next start on (CrashLoopBackOff). */
  apiserverWontStart?: boolean
  apiserverStarts?: boolean
  /** Every `kubeadm upgrade apply` on the nodes fails half-way until --clear (the new kube-apiserver never comes up) and rolls back. */
  upgradeApplyFails?: boolean
  etcdUp?: boolean
  failTask?: string
  failTaskMessage?: string
  kubeErrorRate?: number
  kubeErrorStatus?: number
  kubeLatency?: string
  kubeletDown?: boolean
  kubeletUp?: boolean
  nodes: readonly string[]
  rebootDelay?: number
  /** `ns/name` of pods that never finish terminating once deleted. */
  stuckPod?: readonly string[]
}

const VM_FLAGS = ['agentDown', 'agentUp', 'dpkgLock', 'dpkgUnlock', 'dropNextSsh', 'dropSsh', 'kubeletNotReadyAfterReboot', 'noBoot', 'rebootDelay'] as const
const KUBELET_FLAGS = ['kubeletDown', 'kubeletUp', 'etcdDown', 'etcdUp', 'apiserverWontStart', 'apiserverStarts', 'upgradeApplyFails'] as const
const KUBE_FLAGS = ['blockPdb', 'kubeErrorRate', 'kubeLatency', 'stuckPod'] as const

/** `200` or `100-800` → a latency the fakes understand; 0 → none. */
function latency(flag: string, value: string): number | readonly [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(value)
  if (!m) throw new UsageError(`${flag} must be milliseconds like 200, or a range like 100-800`)
  return m[2] === undefined ? Number(m[1]) : [Number(m[1]), Number(m[2])]
}

function objectRefs(flag: string, refs: readonly string[] | undefined): string[] | undefined {
  if (refs === undefined) return undefined
  for (const ref of refs) if (!/^[a-z0-9.-]+\/[a-z0-9.-]+$/.test(ref)) throw new UsageError(`${flag} takes NAMESPACE/NAME, like default/web; got "${ref}"`)
  return [...refs]
}

/** Turns `kp lab fault` flags into one request against the lab's current faults. */
export function buildFaultRequest(current: LabState, flags: FaultFlags): FaultRequest {
  const vmFlagsGiven = VM_FLAGS.filter((k) => flags[k] !== undefined && flags[k] !== false)
  const kubeletFlagsGiven = KUBELET_FLAGS.filter((k) => flags[k] === true)
  if ((vmFlagsGiven.length > 0 || kubeletFlagsGiven.length > 0) && flags.nodes.length === 0) throw new UsageError('name the nodes the fault is for: kp lab fault NODE… --agent-down (names or VMIDs)')
  if (flags.nodes.length > 0 && vmFlagsGiven.length === 0 && kubeletFlagsGiven.length === 0 && !flags.clear) {
    throw new UsageError(
      'say which fault the nodes get: --agent-down, --agent-up, --reboot-delay, --drop-ssh, --drop-next-ssh, --no-boot, --dpkg-lock, --dpkg-unlock, ' +
        '--kubelet-not-ready-after-reboot, --kubelet-down, --kubelet-up, --etcd-down, --etcd-up, --apiserver-wont-start, --apiserver-starts or --upgrade-apply-fails',
    )
  }

  if (flags.dpkgLock && flags.dpkgUnlock) throw new UsageError('--dpkg-lock and --dpkg-unlock contradict each other')
  if (flags.kubeletNotReadyAfterReboot && flags.kubeletUp) throw new UsageError('--kubelet-not-ready-after-reboot and --kubelet-up contradict each other')

  if (flags.agentDown && flags.agentUp) throw new UsageError('--agent-down and --agent-up contradict each other')
  if (flags.kubeletDown && flags.kubeletUp) throw new UsageError('--kubelet-down and --kubelet-up contradict each other')
  if (flags.etcdDown && flags.etcdUp) throw new UsageError('--etcd-down and --etcd-up contradict each other')
  if (flags.apiserverWontStart && flags.apiserverStarts) throw new UsageError('--apiserver-wont-start and --apiserver-starts contradict each other')
  if (flags.kubeErrorRate !== undefined && !(flags.kubeErrorRate >= 0 && flags.kubeErrorRate <= 1)) throw new UsageError('--kube-error-rate must be between 0 and 1, like 0.2')
  if (flags.apiErrorRate !== undefined && !(flags.apiErrorRate >= 0 && flags.apiErrorRate <= 1)) throw new UsageError('--api-error-rate must be between 0 and 1, like 0.2')
  if (flags.apiLockContention !== undefined && !(flags.apiLockContention >= 0 && flags.apiLockContention <= 1)) {
    throw new UsageError('--api-lock-contention must be between 0 and 1, like 0.2')
  }

  const request: FaultRequest = {}
  const api = flags.clear ? {} : {...current.faults}
  delete api.cloneLock
  if (flags.apiLatency !== undefined) {
    const ms = latency('--api-latency', flags.apiLatency)
    api.latency = ms === 0 ? [] : [{ms}]
  }

  if (flags.apiErrorRate !== undefined || flags.apiLockContention !== undefined) api.errors = apiErrors(api.errors ?? [], flags)
  if (flags.failTask !== undefined) api.failTasks = [...(api.failTasks ?? []), {message: flags.failTaskMessage ?? 'simulated failure (kp lab fault)', type: flags.failTask}]
  const apiFlags = [flags.apiLatency, flags.apiErrorRate, flags.apiLockContention, flags.failTask]
  if (flags.clear || apiFlags.some((f) => f !== undefined)) request.proxmox = api

  Object.assign(request, kubeFaultRequest(current, flags), etcdFaultRequest(current, flags), apiserverFaultRequest(current, flags))

  // --clear alone touches only VMs that have faults: a VM still being cloned has no disk to write to.
  const vmTargets = vmFlagsGiven.length > 0 || flags.kubeletUp === true || (flags.clear && current.vms.some((v) => !v.template))
  const targets = !vmTargets ? [] : flags.clear && flags.nodes.length === 0 ? current.vms.filter((v) => !v.template && Object.keys(v.faults).length > 0) : flags.nodes.map((ref) => resolveVm(current.vms, ref))
  const vms: Record<string, VmFaultsInput> = {}
  for (const vm of targets) {
    const faults: VmFaultsInput = flags.clear ? {agentSilent: false, dpkgLock: false, kubeletNotReadyAfterReboot: false, noBoot: false, rebootDelaySeconds: undefined} : {}
    if (flags.agentDown) faults.agentSilent = true
    if (flags.agentUp) faults.agentSilent = false
    if (flags.rebootDelay !== undefined) faults.rebootDelaySeconds = flags.rebootDelay
    if (flags.dropNextSsh !== undefined) faults.dropNextSshSessions = flags.dropNextSsh
    if (flags.noBoot) faults.noBoot = true
    if (flags.dpkgLock) faults.dpkgLock = true
    if (flags.dpkgUnlock) faults.dpkgLock = false
    if (flags.kubeletNotReadyAfterReboot) faults.kubeletNotReadyAfterReboot = true
    if (flags.kubeletUp) faults.kubeletNotReadyAfterReboot = false
    vms[String(vm.vmid)] = faults
  }

  if (Object.keys(vms).length > 0) request.vms = vms
  if (flags.dropSsh) request.dropSsh = targets.map((vm) => vm.vmid)
  return request
}

/** The error faults after `--api-error-rate` and `--api-lock-contention`: each replaces its own kind, 0 removes it. */
function apiErrors(current: ErrorFault[], flags: FaultFlags): ErrorFault[] {
  let errors = current
  if (flags.apiErrorRate !== undefined) {
    const method = flags.apiErrorMethod ? {method: flags.apiErrorMethod.toUpperCase()} : {}
    errors = errors.filter((e) => e.lockContention)
    if (flags.apiErrorRate > 0) errors.push({rate: flags.apiErrorRate, status: flags.apiErrorStatus ?? 500, ...method, ...(flags.apiErrorAfter ? {after: true} : {})})
  }

  if (flags.apiLockContention !== undefined) {
    errors = errors.filter((e) => !e.lockContention)
    if (flags.apiLockContention > 0) errors.push({lockContention: true, rate: flags.apiLockContention})
  }

  return errors
}

type VmFaultsInput = NonNullable<FaultRequest['vms']>[string]

/** `--etcd-down`/`--etcd-up` for the nodes named; --clear starts every stopped member again. */
function etcdFaultRequest(current: LabState, flags: FaultFlags): Pick<FaultRequest, 'etcd'> {
  const etcd: Record<string, boolean> = {}
  if (flags.clear) {
    for (const name of current.etcd?.down ?? []) etcd[String(resolveVm(current.vms, name).vmid)] = false
  }

  if (flags.etcdDown || flags.etcdUp) {
    if (!current.etcd || current.etcd.clusters.length === 0) throw new UsageError('the lab runs no etcd: kubeadm init on a lab VM starts the first member')
    const members = current.etcd.clusters.flatMap((c) => c.members)
    for (const ref of flags.nodes) {
      const vm = resolveVm(current.vms, ref)
      if (!members.some((m) => m.vmid === vm.vmid)) throw new UsageError(`${vm.name} runs no etcd member`, {hint: `the members: ${members.map((m) => m.name).join(', ')}`})
      etcd[String(vm.vmid)] = flags.etcdDown === true
    }
  }

  return Object.keys(etcd).length > 0 ? {etcd} : {}
}

/** `--apiserver-wont-start`/`--apiserver-starts` for the control planes named; --clear lets every one start again. */
function apiserverFaultRequest(current: LabState, flags: FaultFlags): Pick<FaultRequest, 'apiserver' | 'upgradeApplyFails'> {
  const apiserver: Record<string, boolean> = {}
  const upgrade: Record<string, boolean> = {}
  if (flags.clear) for (const name of current.etcd?.apiserverWontStart ?? []) apiserver[String(resolveVm(current.vms, name).vmid)] = false
  if (flags.clear) for (const name of current.etcd?.upgradeApplyFails ?? []) upgrade[String(resolveVm(current.vms, name).vmid)] = false
  if (flags.apiserverWontStart || flags.apiserverStarts || flags.upgradeApplyFails) {
    const planes = current.etcd?.clusters.flatMap((c) => c.members) ?? []
    for (const ref of flags.nodes) {
      const vm = resolveVm(current.vms, ref)
      if (!planes.some((m) => m.vmid === vm.vmid)) throw new UsageError(`${vm.name} is not a control plane: it runs no kube-apiserver`, {hint: `the control planes: ${planes.map((m) => m.name).join(', ') || 'none yet'}`})
      if (flags.upgradeApplyFails) upgrade[String(vm.vmid)] = true
      if (flags.apiserverWontStart || flags.apiserverStarts) apiserver[String(vm.vmid)] = flags.apiserverWontStart === true
    }
  }

  return {...(Object.keys(apiserver).length > 0 ? {apiserver} : {}), ...(Object.keys(upgrade).length > 0 ? {upgradeApplyFails: upgrade} : {})}
}

/** The Kubernetes part of a fault request: API latency and errors, blocking PDBs, stuck pods, silent kubelets. */
function kubeFaultRequest(current: LabState, flags: FaultFlags): Pick<FaultRequest, 'kube' | 'kubelets'> {
  const given = KUBE_FLAGS.some((k) => flags[k] !== undefined) || flags.kubeletDown === true || flags.kubeletUp === true
  if (!current.kube) {
    if (given) throw new UsageError('the lab runs no Kubernetes API, so it has no Kubernetes faults', {hint: 'start it with kp lab up --cluster'})
    return {}
  }

  const out: Pick<FaultRequest, 'kube' | 'kubelets'> = {}
  if (flags.clear || KUBE_FLAGS.some((k) => flags[k] !== undefined)) {
    const kube = flags.clear ? {} : {...current.kube.faults}
    if (flags.kubeLatency !== undefined) {
      const ms = latency('--kube-latency', flags.kubeLatency)
      kube.latency = ms === 0 ? [] : [{ms}]
    }

    if (flags.kubeErrorRate !== undefined) kube.errors = flags.kubeErrorRate === 0 ? [] : [{rate: flags.kubeErrorRate, status: flags.kubeErrorStatus ?? 500}]
    const block = objectRefs('--block-pdb', flags.blockPdb)
    if (block) kube.blockPdbs = [...new Set([...(kube.blockPdbs ?? []), ...block])]
    const stuck = objectRefs('--stuck-pod', flags.stuckPod)
    if (stuck) kube.stuckPods = [...new Set([...(kube.stuckPods ?? []), ...stuck])]
    out.kube = kube
  }

  const known = current.kube.nodes.map((n) => n.name)
  const kubelets: Record<string, boolean> = {}
  if (flags.clear) for (const name of current.kube.kubeletDown) kubelets[name] = false
  if (flags.kubeletDown || flags.kubeletUp) {
    for (const name of flags.nodes) {
      if (!known.includes(name)) throw new UsageError(`the lab's Kubernetes API has no node "${name}"`, {hint: `its nodes: ${known.join(', ')}`})
      kubelets[name] = flags.kubeletDown === true
    }
  }

  if (Object.keys(kubelets).length > 0) out.kubelets = kubelets
  return out
}
