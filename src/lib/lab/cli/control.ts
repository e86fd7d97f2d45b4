/**
 * The supervisor's control socket: a small HTTP API on a unix socket in the lab folder (mode 0600,
 * root only), through which `kp lab status|fault|down` reach the processes the supervisor owns.
 */
import {request} from 'node:http'

import {UsageError} from '../../errors.js'
import type {VmFaults} from '../host/runtime.js'
import type {KubeFaults} from '../kube/faults.js'
import type {EtcdMemberState} from '../kubeadm/etcd.js'
import type {Faults} from '../proxmox/faults.js'

export interface LabVm {
  /** Whether the VM's init finished booting (sshd started). */
  booted: boolean
  ip?: string
  /** The kubelet-not-ready-after-reboot fault holds now (the VM booted again since it was set). */
  kubeletNotReady?: boolean
  lock?: string
  name: string
  node: string
  running: boolean
  template: boolean
  vmid: number
  faults: VmFaults
}

/** The lab's Kubernetes API (with kp lab up --cluster). */
export interface LabKubeState {
  faults: KubeFaults
  /** Nodes whose kubelet is made to stop posting status (kp lab fault NODE --kubelet-down). */
  kubeletDown: string[]
  nodes: Array<{name: string; ready: boolean; unschedulable: boolean}>
}

/** One etcd member of a lab cluster, as `kp lab status` shows it. */
export type LabEtcdMember = EtcdMemberState

/** The real etcd of each kubeadm cluster in the lab. */
export interface LabEtcdState {
  clusters: Array<{leader?: string; members: LabEtcdMember[]; name: string}>
  /** VMs whose etcd is kept stopped (kp lab fault NODE --etcd-down). */
  down: string[]
  /** VMs whose kube-apiserver exits at every start (kp lab fault NODE --apiserver-wont-start). */
  apiserverWontStart?: string[]
  /** VMs whose `kubeadm upgrade apply` fails half-way and rolls back (kp lab fault NODE --upgrade-apply-fails). */
  upgradeApplyFails?: string[]
}

export interface LabState {
  etcd?: LabEtcdState
  faults: Faults
  kube?: LabKubeState
  vms: LabVm[]
}

export interface FaultRequest {
  /** Replaces the Proxmox faults (the supervisor merges with what it keeps: the clone lock). */
  proxmox?: Faults
  /** Host-side faults per VMID, merged into each VM's. */
  vms?: Record<string, VmFaults>
  /** Cut the VM's open SSH sessions now. */
  dropSsh?: number[]
  /** Replaces the Kubernetes API faults. */
  kube?: KubeFaults
  /** Node name → kubelet down (true) or back (false). */
  kubelets?: Record<string, boolean>
  /** VMID → etcd member kept stopped (true) or started again (false). */
  etcd?: Record<string, boolean>
  /** VMID → kube-apiserver exits at every start (true) or starts normally again (false). */
  apiserver?: Record<string, boolean>
  /** VMID → every `kubeadm upgrade apply` there fails and rolls back (true) or not (false). */
  upgradeApplyFails?: Record<string, boolean>
}

export interface FaultResult {
  cutSessions: Record<string, number>
  state: LabState
}

export function callSupervisor<T>(socket: string, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const req = request({headers: payload ? {'content-type': 'application/json'} : {}, method, path, socketPath: socket, timeout: timeoutMs}, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let parsed: {data?: T; error?: string}
        try {
          parsed = JSON.parse(text) as {data?: T; error?: string}
        } catch {
          reject(new Error(`the lab supervisor answered ${res.statusCode ?? '?'} with something other than JSON`))
          return
        }

        if (res.statusCode === 200) resolve(parsed.data as T)
        else reject(new UsageError(`the lab supervisor refused: ${parsed.error ?? res.statusCode}`))
      })
    })
    req.on('timeout', () => req.destroy(new Error(`the lab supervisor did not answer within ${timeoutMs / 1000} s`)))
    req.on('error', reject)
    req.end(payload)
  })
}
