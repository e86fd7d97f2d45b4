/**
 * The lab kubelet's kube-apiserver, kube-controller-manager and kube-scheduler static pods: while a
 * booted control plane's kubelet runs and /etc/kubernetes/manifests/<component>.yaml is there, the
 * stand-in (apiserver-standin.ts) runs with the manifest's command. kube-apiserver serves, on the
 * node's address, the certificate that was on disk when it started; the controller manager and the
 * scheduler only wait (the lab's API server does their work) — they are there to be seen and
 * restarted. Each is a container as crictl sees it: in the VM's PID and network namespaces
 * (`nsenter -n -p`; the files stay the host's, read through the VM's root), with its argv[0] the
 * manifest's command[0] and a record in the VM's /run/kp-lab/containers/<id>/ written as
 * /usr/lib/kp-lab/container-run writes etcd's. Manifest moved out: SIGTERM (SIGKILL after the
 * grace period); back or changed: started again, with the files as they are now; exited on its
 * own: restarted with the kubelet's back-off; a reboot: gone with the VM's processes, started
 * once the VM is up again. `kp lab fault NODE --apiserver-wont-start` makes every start of the
 * node's kube-apiserver exit at once (CrashLoopBackOff) until `--apiserver-starts`.
 */
import {type ChildProcess, spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import type {LabVmState} from './kubelets.js'
import {BACKOFF_MS, etcdContainer, GRACE_MS, initOf, MAX_BACKOFF_MS} from './static-pods.js'
import {readVmFile} from './vm-files.js'

export const CONTROL_PLANE_COMPONENTS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const
export type ControlPlaneComponent = (typeof CONTROL_PLANE_COMPONENTS)[number]
export const APISERVER_MANIFEST = '/etc/kubernetes/manifests/kube-apiserver.yaml'
const STANDIN = fileURLToPath(new URL('apiserver-standin.js', import.meta.url))
/** No image is unpacked there: `crictl exec` into these containers finds no command, as in the distroless images. */
const IMAGE_ROOT = '/var/lib/kp-lab/images'

/** A kube-apiserver's serving certificate and key as they were on disk when it started. */
export interface ServingPair {
  cert: string
  key: string
  /** When it started (ms since the epoch). */
  since: number
}

interface PodContainer {
  argv: string[]
  /** The manifest's image: a new tag (kubeadm upgrade) restarts the pod, as a changed pod hash does. */
  image: string
  attempt: number
  /** nsenter, whose child is the container: its exit is the container's. */
  child: ChildProcess
  exited: boolean
  /** The stand-in as the host sees it, once known (SIGTERM to nsenter would not reach it). */
  hostPid?: number
  init: number
  serving?: ServingPair
  stoppingSince?: number
}

interface Backoff {
  init: number
  restarts: number
  until: number
}

function flag(argv: readonly string[], name: string): string | undefined {
  return argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
}

/** The first child of a process (`/proc/<pid>/task/<pid>/children`): the one nsenter forked into the VM's PID namespace. */
function childOf(pid: number): number | undefined {
  try {
    const first = Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0])
    return first > 0 ? first : undefined
  } catch {
    return undefined
  }
}

function signal(pid: number | undefined, sig: NodeJS.Signals): void {
  if (pid === undefined) return
  try {
    process.kill(pid, sig)
  } catch {
    // already gone
  }
}

export class LabControlPlanePods {
  /** VMIDs whose kube-apiserver exits as soon as it starts (kp lab fault --apiserver-wont-start). */
  readonly wontStart = new Set<number>()
  /** VMIDs whose `kubeadm upgrade apply` fails half-way and rolls back until --clear (kp lab fault --upgrade-apply-fails). */
  readonly upgradeFails = new Set<number>()
  private readonly containers = new Map<string, PodContainer>()
  private readonly backoff = new Map<string, Backoff>()

  /** `upstream(vm)`: the front-proxy socket of the cluster the VM is a control plane of, if it runs. */
  constructor(private readonly log: (line: string) => void, private readonly upstream: (vm: LabVmState) => string | undefined) {}

  /** Whether the VM's container of a component runs now. */
  running(vmid: number, component: ControlPlaneComponent = 'kube-apiserver'): boolean {
    const c = this.containers.get(`${vmid}/${component}`)
    return c !== undefined && !c.exited && c.stoppingSince === undefined
  }

  /** The image of the VM's running container of a component (`registry.k8s.io/kube-apiserver:v1.31.9`). */
  image(vmid: number, component: ControlPlaneComponent = 'kube-apiserver'): string | undefined {
    return this.running(vmid, component) ? this.containers.get(`${vmid}/${component}`)?.image : undefined
  }

  /** The certificate and key the VM's running kube-apiserver serves, if one runs. */
  serving(vmid: number): ServingPair | undefined {
    return this.running(vmid) ? this.containers.get(`${vmid}/kube-apiserver`)?.serving : undefined
  }

  /** Restarts (and back-off waits) of the VM's kube-apiserver so far, for `kp lab status`. */
  restarts(vmid: number): number {
    return this.backoff.get(`${vmid}/kube-apiserver`)?.restarts ?? 0
  }

  setWontStart(vm: LabVmState, on: boolean): void {
    if (on) this.wontStart.add(vm.vmid)
    else {
      this.wontStart.delete(vm.vmid)
      this.backoff.delete(`${vm.vmid}/kube-apiserver`)
    }
  }

  syncVm(vm: LabVmState): void {
    for (const component of CONTROL_PLANE_COMPONENTS) {
      try {
        this.syncPod(vm, component)
      } catch (error) {
        this.log(`kubelet ${vm.name}: ${component}: ${error instanceof Error ? error.message : String(error)}`)
      }
    }
  }

  private syncPod(vm: LabVmState, component: ControlPlaneComponent): void {
    const key = `${vm.vmid}/${component}`
    const init = initOf(vm)
    let c = this.containers.get(key)
    if (c && (!vm.booted || c.init !== init)) {
      // The VM's PID namespace went with its init, and the container with it; this is only for certain.
      if (!c.exited) signal(c.hostPid, 'SIGKILL')
      this.containers.delete(key)
      this.backoff.delete(key)
      c = undefined
    }

    if (!vm.booted || init === undefined) return
    if (c && !c.exited && c.hostPid === undefined && c.child.pid !== undefined) {
      c.hostPid = childOf(c.child.pid)
      if (c.stoppingSince !== undefined) signal(c.hostPid, 'SIGTERM')
    }

    if (c?.exited) {
      this.containers.delete(key)
      if (c.stoppingSince === undefined) {
        const restarts = c.attempt + 1
        const delay = Math.min(BACKOFF_MS * 2 ** Math.min(c.attempt, 10), MAX_BACKOFF_MS)
        this.backoff.set(key, {init, restarts, until: Date.now() + delay})
        this.log(`kubelet ${vm.name}: ${component} exited; back-off ${delay / 1000} s before restart ${restarts}`)
      } else {
        this.log(`kubelet ${vm.name}: ${component} stopped`)
      }

      c = undefined
    }

    if (c?.stoppingSince !== undefined && Date.now() - c.stoppingSince > GRACE_MS) signal(c.hostPid, 'SIGKILL')
    // A stopped kubelet neither starts nor stops containers.
    if (!vm.serviceActive('kubelet.service')) return
    const manifest = readVmFile(vm.root, `/etc/kubernetes/manifests/${component}.yaml`)
    const spec = manifest === undefined ? undefined : etcdContainer(manifest)
    if (c) {
      if (c.stoppingSince === undefined && (!spec || JSON.stringify(c.argv) !== JSON.stringify(spec.command) || c.image !== spec.image)) {
        c.stoppingSince = Date.now()
        signal(c.hostPid, 'SIGTERM')
        this.log(`kubelet ${vm.name}: stopping ${component} (${spec ? 'manifest changed' : 'manifest removed'})`)
      }

      return
    }

    const upstream = component === 'kube-apiserver' ? this.upstream(vm) : ''
    const wait = this.backoff.get(key)
    if (spec && upstream !== undefined && (!wait || wait.init !== init || Date.now() >= wait.until)) {
      this.start(vm, component, init, spec, upstream, wait?.init === init ? wait.restarts : 0)
    }
  }

  private start(vm: LabVmState, component: ControlPlaneComponent, init: number, spec: {command: string[]; image: string}, upstream: string, attempt: number): void {
    const pod = `${component}-${vm.name}`
    const env = {
      KPLAB_ATTEMPT: String(attempt),
      KPLAB_CONTAINER_ID: randomBytes(32).toString('hex'),
      KPLAB_CONTAINER_NAME: component,
      KPLAB_IMAGE: spec.image,
      KPLAB_IMAGE_ROOT: `${IMAGE_ROOT}/${component}`,
      KPLAB_LOG: `/var/log/pods/kube-system_${pod}/${component}/${attempt}.log`,
      KPLAB_POD: pod,
      KPLAB_POD_ID: randomBytes(32).toString('hex'),
      KPLAB_ROOT: vm.root,
      // The stand-in sees the host's /proc (nsenter leaves the mount namespace), where this PID is ours.
      KPLAB_SUPERVISOR: String(process.pid),
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
      ...(upstream === '' ? {} : {KPLAB_UPSTREAM: upstream}),
      ...(component === 'kube-apiserver' && this.wontStart.has(vm.vmid) ? {KPLAB_CRASH: '1'} : {}),
    }
    // What the stand-in is about to load, read now: the endpoint (the VIP) presents it while this one runs.
    const cert = component === 'kube-apiserver' ? readVmFile(vm.root, flag(spec.command, 'tls-cert-file') ?? '/nonexistent') : undefined
    const key = component === 'kube-apiserver' ? readVmFile(vm.root, flag(spec.command, 'tls-private-key-file') ?? '/nonexistent') : undefined
    // nsenter -p forks: its child is in the VM's PID namespace, where crictl finds it by the PID it records.
    const child = spawn('nsenter', ['-t', String(init), '-n', '-p', '--', process.execPath, STANDIN, ...spec.command], {env, stdio: 'ignore'})
    const c: PodContainer = {
      argv: spec.command,
      image: spec.image,
      attempt,
      child,
      exited: false,
      init,
      ...(cert !== undefined && key !== undefined ? {serving: {cert, key, since: Date.now()}} : {}),
    }
    child.on('exit', () => {
      c.exited = true
    })
    child.on('error', (error) => {
      c.exited = true
      this.log(`kubelet ${vm.name}: cannot start ${component}: ${error.message}`)
    })
    this.containers.set(`${vm.vmid}/${component}`, c)
    this.log(`kubelet ${vm.name}: ${component} started (attempt ${attempt})`)
  }

  stopAll(): void {
    for (const c of this.containers.values()) {
      if (c.exited) continue
      c.hostPid ??= c.child.pid === undefined ? undefined : childOf(c.child.pid)
      signal(c.hostPid, 'SIGTERM')
    }

    this.containers.clear()
  }
}
