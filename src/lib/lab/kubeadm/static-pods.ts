/**
 * The lab kubelet's container runtime for the etcd static pod: while a booted VM's kubelet runs
 * and /etc/kubernetes/manifests/etcd.yaml is there, a real etcd runs inside the VM (its
 * namespaces, as root) with exactly the manifest's command, from the etcd "image" the node image
 * carries (/var/lib/kp-lab/images/etcd). The manifest gone: the container is stopped (SIGTERM,
 * SIGKILL after the grace period), as the kubelet does; back or changed: started again. A reboot
 * kills it with every other process of the VM and the kubelet starts it once the VM is up. A
 * container that exits on its own is restarted with the kubelet's back-off (10 s doubling to 5 min).
 * A stopped kubelet leaves running containers alone, as on a real node. `kp lab fault NODE
 * --etcd-down` keeps it stopped.
 *
 * The container is started through /usr/lib/kp-lab/container-run, which records it under
 * /run/kp-lab/containers/<id>/ in the VM, where the lab's crictl lists it and a restarted
 * supervisor finds it again.
 */
import {type ChildProcess, spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {readFileSync} from 'node:fs'

import {parse} from 'yaml'

import {processesInPidNamespaceOf} from '../host/system.js'
import {LabControlPlanePods} from './control-plane-pods.js'
import type {LabVmState} from './kubelets.js'
import {listVmDir, readVmFile} from './vm-files.js'

export const ETCD_MANIFEST = '/etc/kubernetes/manifests/etcd.yaml'
/** The etcd image's root in the node image: etcd and etcdctl in usr/local/bin, as in registry.k8s.io/etcd. */
export const ETCD_IMAGE_ROOT = '/var/lib/kp-lab/images/etcd'
const CONTAINERS = '/run/kp-lab/containers'
const RUNNER = '/usr/lib/kp-lab/container-run'
export const GRACE_MS = 30_000
export const BACKOFF_MS = 10_000
export const MAX_BACKOFF_MS = 300_000

interface Container {
  argv: string[]
  /** The manifest's image when this supervisor started it (unknown for an adopted one): a new tag restarts it. */
  image?: string
  attempt: number
  child?: ChildProcess
  exited: boolean
  /** The container's process as the host sees it, once known. */
  hostPid?: number
  id: string
  /** The VM's init when the container started: another one means the VM rebooted. */
  init: number
  startedAt: number
  /** When the kubelet sent SIGTERM. */
  stoppingSince?: number
}

/** The host PID of the VM's init, from its root path (`/proc/<init>/root`). */
export function initOf(vm: LabVmState): number | undefined {
  const pid = /^\/proc\/(\d+)\/root$/.exec(vm.root)?.[1]
  return pid === undefined ? undefined : Number(pid)
}

function cmdline(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1)
  } catch {
    return undefined
  }
}

/** The host PID of the process the VM knows as `vmPid`. */
function hostPidOf(init: number, vmPid: number): number | undefined {
  for (const pid of processesInPidNamespaceOf(init)) {
    try {
      const nspid = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]?.trim().split(/\s+/)
      if (nspid && Number(nspid.at(-1)) === vmPid) return pid
    } catch {
      // gone
    }
  }

  return undefined
}

/** The etcd container of a manifest: its command and image; undefined when the file is not a pod the kubelet can run. */
export function etcdContainer(manifest: string): {command: string[]; image: string} | undefined {
  try {
    const pod = parse(manifest) as {spec?: {containers?: Array<{command?: unknown; image?: unknown}>}}
    const container = pod.spec?.containers?.[0]
    const command = container?.command
    if (!Array.isArray(command) || command.length === 0 || !command.every((a) => typeof a === 'string')) return undefined
    return {command: command, image: typeof container?.image === 'string' ? container.image : 'registry.k8s.io/etcd'}
  } catch {
    return undefined
  }
}

/** The `--name=` of an etcd command line (the node name kubeadm gives the member). */
export function etcdName(argv: readonly string[]): string | undefined {
  return argv.find((a) => a.startsWith('--name='))?.slice('--name='.length)
}

export class LabStaticPods {
  /** VMIDs whose etcd is kept stopped (kp lab fault --etcd-down). */
  readonly etcdDown = new Set<number>()
  private readonly containers = new Map<number, Container>()
  private readonly backoff = new Map<number, {init: number; restarts: number; until: number}>()

  /** The kube-apiserver, kube-controller-manager and kube-scheduler static pods (control-plane-pods.ts); `upstream(vm)` is the front-proxy socket of the VM's cluster. */
  readonly controlPlane: LabControlPlanePods

  constructor(private readonly log: (line: string) => void, upstream: (vm: LabVmState) => string | undefined = () => undefined) {
    this.controlPlane = new LabControlPlanePods(log, upstream)
  }

  /** One kubelet sync of every VM. */
  sync(vms: readonly LabVmState[]): void {
    for (const vm of vms) {
      try {
        this.syncVm(vm)
      } catch (error) {
        this.log(`kubelet ${vm.name}: etcd: ${error instanceof Error ? error.message : String(error)}`)
      }

      this.controlPlane.syncVm(vm)
    }
  }

  /** Whether the VM's etcd container runs now. */
  running(vmid: number): boolean {
    const c = this.containers.get(vmid)
    return c !== undefined && !c.exited && c.stoppingSince === undefined
  }

  /** Whether the VM's etcd runs the image (one adopted from an earlier supervisor, whose image is unknown, counts). */
  runningImage(vmid: number, image: string): boolean {
    const c = this.containers.get(vmid)
    return this.running(vmid) && (c?.image === undefined || c.image === image)
  }

  setDown(vm: LabVmState, down: boolean): void {
    if (down) this.etcdDown.add(vm.vmid)
    else {
      this.etcdDown.delete(vm.vmid)
      this.backoff.delete(vm.vmid)
    }

    this.syncVm(vm)
  }

  /** The kubelet's sync of one VM. */
  syncVm(vm: LabVmState): void {
    const init = initOf(vm)
    let c = this.containers.get(vm.vmid)
    if (!vm.booted || init === undefined) {
      // The VM is down: its processes went with it.
      this.containers.delete(vm.vmid)
      return
    }

    if (c && c.init !== init) {
      this.containers.delete(vm.vmid)
      this.backoff.delete(vm.vmid)
      c = undefined
    }

    if (c) c = this.refresh(vm, c)
    c ??= this.adopt(vm, init)
    // A stopped kubelet neither starts nor stops containers.
    if (!vm.serviceActive('kubelet.service')) return
    const manifest = readVmFile(vm.root, ETCD_MANIFEST)
    const spec = manifest === undefined ? undefined : etcdContainer(manifest)
    const wanted = spec !== undefined && !this.etcdDown.has(vm.vmid)
    if (c) {
      if (c.stoppingSince === undefined && (!wanted || JSON.stringify(c.argv) !== JSON.stringify(spec.command) || (c.image !== undefined && c.image !== spec.image))) this.stop(vm, c, wanted ? 'manifest changed' : manifest === undefined ? 'manifest removed' : 'fault')
      return
    }

    const wait = this.backoff.get(vm.vmid)
    if (wanted && (!wait || wait.init !== init || Date.now() >= wait.until)) this.start(vm, init, spec, wait?.init === init ? wait.restarts : 0)
  }

  /** Stops the VM's etcd container now (kubeadm reset removes the node's containers) and waits for it to go. */
  async remove(vm: LabVmState, timeoutMs = GRACE_MS): Promise<void> {
    const c = this.containers.get(vm.vmid)
    if (!c) return
    if (c.stoppingSince === undefined) this.stop(vm, c, 'kubeadm reset')
    const deadline = Date.now() + timeoutMs
    while (!c.exited && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      this.refresh(vm, c)
    }

    if (!c.exited && c.hostPid !== undefined) this.signal(c.hostPid, 'SIGKILL')
    this.containers.delete(vm.vmid)
  }

  /** The supervisor stops: its containers go with the lab. */
  stopAll(): void {
    this.controlPlane.stopAll()
    for (const c of this.containers.values()) if (c.hostPid !== undefined && !c.exited) this.signal(c.hostPid, 'SIGTERM')
    this.containers.clear()
  }

  private signal(pid: number, signal: NodeJS.Signals): void {
    try {
      process.kill(pid, signal)
    } catch {
      // already gone
    }
  }

  /** Finds the process of a container once container-run recorded it, notices an exit, escalates a stop. */
  private refresh(vm: LabVmState, c: Container): Container | undefined {
    if (c.hostPid === undefined && !c.exited) {
      const vmPid = Number(readVmFile(vm.root, `${CONTAINERS}/${c.id}/pid`)?.trim())
      if (vmPid > 0) c.hostPid = hostPidOf(c.init, vmPid)
      if (c.hostPid !== undefined && c.stoppingSince !== undefined) this.signal(c.hostPid, 'SIGTERM')
    }

    // Our own containers end with their nsenter ('exit'); an adopted one when its process is gone.
    if (c.child === undefined && c.hostPid !== undefined && cmdline(c.hostPid)?.[0] !== c.argv[0]) c.exited = true
    if (c.exited) {
      this.containers.delete(vm.vmid)
      if (c.stoppingSince === undefined) {
        // It died on its own: CrashLoopBackOff.
        const restarts = c.attempt + 1
        const delay = Math.min(BACKOFF_MS * 2 ** Math.min(c.attempt, 10), MAX_BACKOFF_MS)
        this.backoff.set(vm.vmid, {init: c.init, restarts, until: Date.now() + delay})
        this.log(`kubelet ${vm.name}: etcd exited; back-off ${delay / 1000} s before restart ${restarts}`)
      } else {
        this.log(`kubelet ${vm.name}: etcd stopped`)
      }

      return undefined
    }

    if (c.stoppingSince !== undefined && Date.now() - c.stoppingSince > GRACE_MS && c.hostPid !== undefined) this.signal(c.hostPid, 'SIGKILL')
    return c
  }

  /** A container a previous supervisor started, still running in the VM. */
  private adopt(vm: LabVmState, init: number): Container | undefined {
    for (const id of listVmDir(vm.root, CONTAINERS)) {
      if (readVmFile(vm.root, `${CONTAINERS}/${id}/name`)?.trim() !== 'etcd') continue
      const vmPid = Number(readVmFile(vm.root, `${CONTAINERS}/${id}/pid`)?.trim())
      const hostPid = vmPid > 0 ? hostPidOf(init, vmPid) : undefined
      const argv = hostPid === undefined ? undefined : cmdline(hostPid)
      if (hostPid === undefined || argv?.[0] !== readVmFile(vm.root, `${CONTAINERS}/${id}/command`)?.trim()) continue
      const attempt = Number(readVmFile(vm.root, `${CONTAINERS}/${id}/attempt`)?.trim()) || 0
      const c: Container = {argv: argv!, attempt, exited: false, hostPid, id, init, startedAt: Date.now()}
      this.containers.set(vm.vmid, c)
      this.log(`kubelet ${vm.name}: etcd already running (pid ${hostPid})`)
      return c
    }

    return undefined
  }

  private start(vm: LabVmState, init: number, spec: {command: string[]; image: string}, attempt: number): void {
    const id = randomBytes(32).toString('hex')
    const node = etcdName(spec.command) ?? vm.name
    const env = {
      KPLAB_ATTEMPT: String(attempt),
      KPLAB_CONTAINER_ID: id,
      KPLAB_CONTAINER_NAME: 'etcd',
      KPLAB_IMAGE: spec.image,
      KPLAB_IMAGE_ROOT: ETCD_IMAGE_ROOT,
      KPLAB_LOG: `/var/log/pods/kube-system_etcd-${node}/etcd/${attempt}.log`,
      KPLAB_POD: `etcd-${node}`,
      KPLAB_POD_ID: randomBytes(32).toString('hex'),
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    }
    // nsenter forks into the VM's PID namespace; its child (container-run, then etcd) is the container.
    const child = spawn('nsenter', ['-t', String(init), '-m', '-u', '-i', '-n', '-p', '-r', '-w', '--', RUNNER, ...spec.command], {detached: true, env, stdio: 'ignore'})
    const c: Container = {argv: spec.command, attempt, child, image: spec.image, exited: false, id, init, startedAt: Date.now()}
    child.on('exit', () => {
      c.exited = true
    })
    child.on('error', (error) => {
      c.exited = true
      this.log(`kubelet ${vm.name}: cannot start etcd: ${error.message}`)
    })
    child.unref()
    this.containers.set(vm.vmid, c)
    this.log(`kubelet ${vm.name}: etcd started (attempt ${attempt})`)
  }

  private stop(vm: LabVmState, c: Container, why: string): void {
    c.stoppingSince = Date.now()
    if (c.hostPid !== undefined) this.signal(c.hostPid, 'SIGTERM')
    this.log(`kubelet ${vm.name}: stopping etcd (${why})`)
  }
}
