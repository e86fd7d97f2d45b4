/**
 * `kp lab up`: checks the machine, writes the lab's secrets and key, starts the supervisor in the
 * background and follows it until the lab is ready, then writes kp.yaml. Idempotent: with a lab
 * already up it reports that lab.
 */
import {spawn} from 'node:child_process'
import {closeSync, mkdirSync, openSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {UsageError} from '../../errors.js'
import {packageRoot} from '../../package-root.js'
import {preflight} from '../host/index.js'
import {assertNoOtherLab, pidAlive} from '../host/lock.js'
import {ensureSshKey, ensureTokenSecret, LAB_TOKEN_ID, labPaths, type LabPaths} from './files.js'
import {labNodes, type LabLayout, layoutProblem, writeLabConfig} from './lab-config.js'
import {type Phase, readStatus, type SupervisorStatus} from './status.js'

export const LAB_CLUSTER = 'lab'

export interface LabUpResult {
  alreadyUp: boolean
  config: string
  dir: string
  /** Seconds each start-up phase took (image: the debootstrap build on a cold cache). */
  durations: SupervisorStatus['durations']
  knownHosts: string
  /** Admin kubeconfig of the lab Kubernetes API (with --cluster). */
  kubeconfig?: string
  log: string
  next: string[]
  nodes: Array<{ip: string; name: string; role: string; vmid: number}>
  packages: {repoBaseUrl: string}
  proxmox: {endpoint: string; fingerprint: string; node: string; tokenId: string; tokenSecretFile: string}
  sshKey: string
  sshUser: string
  supervisorPid: number
}

export function labDir(stateDir: string): string {
  return path.join(stateDir, 'lab')
}

export interface LabUpOptions {
  /** Lifetime in days of the certificates the lab issues (kubeadm's, the API servers'); 365 by default. */
  certDays?: number
  kube?: boolean
  onPhase?: (phase: Phase) => void
  pveNodes?: number
  timeoutMs?: number
}

export async function labUp(stateDir: string, layout: LabLayout, options: LabUpOptions = {}): Promise<LabUpResult> {
  const problem = layoutProblem(layout)
  if (problem) throw new UsageError(problem)
  preflight()
  const paths = labPaths(labDir(stateDir))
  assertNoOtherLab(paths.dir)
  const running = readStatus(paths.status)
  if (running && running.phase === 'ready' && pidAlive(running.pid)) return result(paths, running, await configuredNodes(paths), true)
  if (running && pidAlive(running.pid)) throw new UsageError(`a lab supervisor (process ${running.pid}) is ${running.phase} in ${paths.dir}`, {hint: 'wait for it, or stop it with kp lab down'})

  mkdirSync(paths.dir, {mode: 0o700, recursive: true})
  ensureTokenSecret(paths)
  ensureSshKey(paths)
  const pveNodes = options.pveNodes ?? 1
  if (!Number.isInteger(pveNodes) || pveNodes < 1 || pveNodes > 5) throw new UsageError('--pve-nodes must be 1 to 5')
  const certDays = options.certDays ?? 365
  if (!Number.isInteger(certDays) || certDays < 1 || certDays > 3650) throw new UsageError('--cert-days must be 1 to 3650 (the CAs live 3650 days)')
  const kube = options.kube ? ['--kube-nodes', labNodes(layout).map((n) => n.name).join(','), '--kubernetes-version', layout.kubernetesVersion] : []
  const pid = startSupervisor(paths, pveNodes, [...kube, '--cert-days', String(certDays)])
  const status = await follow(paths, pid, options.onPhase, options.timeoutMs ?? 30 * 60_000)
  writeLabConfig(paths, LAB_CLUSTER, layout, {apiUrl: status.apiUrl!, fingerprint: status.fingerprint!, ...(status.kubeUrl ? {kubeUrl: status.kubeUrl} : {}), repoBaseUrl: status.repoBaseUrl!, repoKeyFingerprint: status.repoKeyFingerprint!})
  return result(paths, status, labNodes(layout), false)
}

/** The nodes of the kp.yaml a running lab was started with (a second `kp lab up` reports them). */
async function configuredNodes(paths: LabPaths): Promise<LabUpResult['nodes']> {
  const {loadConfig} = await import('../../config/load.js')
  const {config} = await loadConfig(paths.config, {checkFiles: false, resolveSecrets: false})
  return config.nodes.map((n) => ({ip: n.ip, name: n.name, role: n.role, vmid: n.vmid}))
}

function startSupervisor(paths: LabPaths, pveNodes: number, extra: string[]): number {
  const out = openSync(paths.log, 'a')
  try {
    // Detached in its own session, so the shell's Ctrl-C or hang-up after `kp lab up` leaves it running.
    const child = spawn(process.execPath, [path.join(packageRoot(), 'bin', 'run.js'), 'lab', 'supervise', '--dir', paths.dir, '--cluster', LAB_CLUSTER, '--pve-nodes', String(pveNodes), ...extra], {
      detached: true,
      env: {...process.env, NO_COLOR: '1'},
      stdio: ['ignore', out, out],
    })
    child.unref()
    if (child.pid === undefined) throw new Error('could not start the lab supervisor')
    return child.pid
  } finally {
    closeSync(out)
  }
}

async function follow(paths: LabPaths, pid: number, onPhase: ((phase: Phase) => void) | undefined, timeoutMs: number): Promise<SupervisorStatus> {
  const deadline = Date.now() + timeoutMs
  let seen: Phase | undefined
  for (;;) {
    const status = readStatus(paths.status)
    if (status?.pid === pid && status.phase !== seen) {
      seen = status.phase
      onPhase?.(status.phase)
    }

    if (status?.pid === pid && status.phase === 'ready') return status
    if (status?.pid === pid && status.phase === 'failed') throw labFailed(paths, status.message)
    if (!pidAlive(pid)) throw labFailed(paths, status?.pid === pid ? status.message : undefined)
    if (Date.now() > deadline) throw new UsageError(`the lab was not ready after ${timeoutMs / 60_000} minutes (last phase: ${seen ?? 'none'})`, {hint: `see ${paths.log}; kp lab down cleans up`})
    await sleep(200)
  }
}

function labFailed(paths: LabPaths, message: string | undefined): UsageError {
  let tail = ''
  try {
    tail = readFileSync(paths.log, 'utf8').trim().split('\n').slice(-8).join('\n')
  } catch {
    // no log
  }

  return new UsageError(`the lab did not start: ${message ?? 'the supervisor exited'}${tail ? `\nlast lines of ${paths.log}:\n${tail}` : ''}`, {
    hint: 'fix the cause above, then run kp lab up again (kp lab down cleans up what is left)',
  })
}

function result(paths: LabPaths, status: SupervisorStatus, nodes: LabUpResult['nodes'], alreadyUp: boolean): LabUpResult {
  const first = nodes[0]!
  return {
    alreadyUp,
    config: paths.config,
    dir: paths.dir,
    durations: status.durations,
    knownHosts: paths.knownHosts,
    ...(status.kubeUrl ? {kubeconfig: paths.kubeconfig} : {}),
    log: paths.log,
    next: [
      `export KP_CONFIG=${paths.config}`,
      'kp bootstrap --yes      # or step by step: kp vm seed, kp node prepare',
      `ssh -i ${paths.sshKey} -o UserKnownHostsFile=${paths.knownHosts} -o StrictHostKeyChecking=yes debian@${first.ip} hostname`,
      'kp lab status',
      'kp lab down',
    ],
    nodes,
    packages: {repoBaseUrl: status.repoBaseUrl!},
    proxmox: {endpoint: new URL(status.apiUrl!).origin, fingerprint: status.fingerprint!, node: 'pve', tokenId: LAB_TOKEN_ID, tokenSecretFile: paths.tokenSecret},
    sshKey: paths.sshKey,
    sshUser: 'debian',
    supervisorPid: status.pid,
  }
}
