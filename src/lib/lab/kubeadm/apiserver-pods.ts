/**
 * The lab kubelet's kube-apiserver static pod: while a booted control plane's kubelet runs and
 * /etc/kubernetes/manifests/kube-apiserver.yaml is there, the stand-in (apiserver-standin.ts) runs
 * with the manifest's command in the VM's network namespace (the host's node and files: nsenter -n
 * only), serving the certificate that was on disk when it started. Manifest moved out: SIGTERM
 * (SIGKILL after the grace period); back or changed: started again, with the files as they are now;
 * exited on its own: restarted with the kubelet's back-off; a reboot: killed, started once the VM is
 * up again. `kp lab fault NODE --apiserver-wont-start` makes every start exit at once
 * (CrashLoopBackOff) until `--apiserver-starts`.
 */
import {type ChildProcess, spawn} from 'node:child_process'
import {fileURLToPath} from 'node:url'

import type {LabVmState} from './kubelets.js'
import {BACKOFF_MS, etcdContainer, GRACE_MS, initOf, MAX_BACKOFF_MS} from './static-pods.js'
import {readVmFile} from './vm-files.js'

export const APISERVER_MANIFEST = '/etc/kubernetes/manifests/kube-apiserver.yaml'
const STANDIN = fileURLToPath(new URL('apiserver-standin.js', import.meta.url))

interface ApiContainer {
  argv: string[]
  attempt: number
  child: ChildProcess
  exited: boolean
  init: number
  stoppingSince?: number
}

export class LabApiServers {
  /** VMIDs whose kube-apiserver exits as soon as it starts (kp lab fault --apiserver-wont-start). */
  readonly wontStart = new Set<number>()
  private readonly containers = new Map<number, ApiContainer>()
  private readonly backoff = new Map<number, {init: number; restarts: number; until: number}>()

  /** `upstream(vm)`: the front-proxy socket of the cluster the VM is a control plane of, if it runs. */
  constructor(private readonly log: (line: string) => void, private readonly upstream: (vm: LabVmState) => string | undefined) {}

  running(vmid: number): boolean {
    const c = this.containers.get(vmid)
    return c !== undefined && !c.exited && c.stoppingSince === undefined
  }

  /** Restarts (and back-off waits) so far, for `kp lab status`. */
  restarts(vmid: number): number {
    return this.backoff.get(vmid)?.restarts ?? 0
  }

  setWontStart(vm: LabVmState, on: boolean): void {
    if (on) this.wontStart.add(vm.vmid)
    else {
      this.wontStart.delete(vm.vmid)
      this.backoff.delete(vm.vmid)
    }
  }

  syncVm(vm: LabVmState): void {
    const init = initOf(vm)
    let c = this.containers.get(vm.vmid)
    if (c && (!vm.booted || c.init !== init)) {
      // A reboot takes the VM's processes with it; ours lives in the host's PID namespace, so it goes here.
      if (!c.exited) c.child.kill('SIGKILL')
      this.containers.delete(vm.vmid)
      this.backoff.delete(vm.vmid)
      c = undefined
    }

    if (!vm.booted || init === undefined) return
    if (c?.exited) {
      this.containers.delete(vm.vmid)
      if (c.stoppingSince === undefined) {
        const restarts = c.attempt + 1
        const delay = Math.min(BACKOFF_MS * 2 ** Math.min(c.attempt, 10), MAX_BACKOFF_MS)
        this.backoff.set(vm.vmid, {init, restarts, until: Date.now() + delay})
        this.log(`kubelet ${vm.name}: kube-apiserver exited; back-off ${delay / 1000} s before restart ${restarts}`)
      } else {
        this.log(`kubelet ${vm.name}: kube-apiserver stopped`)
      }

      c = undefined
    }

    if (c?.stoppingSince !== undefined && Date.now() - c.stoppingSince > GRACE_MS) c.child.kill('SIGKILL')
    if (!vm.serviceActive('kubelet.service')) return
    const manifest = readVmFile(vm.root, APISERVER_MANIFEST)
    const spec = manifest === undefined ? undefined : etcdContainer(manifest)
    if (c) {
      if (c.stoppingSince === undefined && (!spec || JSON.stringify(c.argv) !== JSON.stringify(spec.command))) {
        c.stoppingSince = Date.now()
        c.child.kill('SIGTERM')
        this.log(`kubelet ${vm.name}: stopping kube-apiserver (${spec ? 'manifest changed' : 'manifest removed'})`)
      }

      return
    }

    const upstream = this.upstream(vm)
    const wait = this.backoff.get(vm.vmid)
    if (spec && upstream && (!wait || wait.init !== init || Date.now() >= wait.until)) this.start(vm, init, spec.command, upstream, wait?.init === init ? wait.restarts : 0)
  }

  private start(vm: LabVmState, init: number, argv: string[], upstream: string, attempt: number): void {
    const env = {
      KPLAB_ROOT: vm.root,
      KPLAB_UPSTREAM: upstream,
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
      ...(this.wontStart.has(vm.vmid) ? {KPLAB_CRASH: '1'} : {}),
    }
    const child = spawn('nsenter', ['-t', String(init), '-n', '--', process.execPath, STANDIN, ...argv], {env, stdio: ['ignore', 'ignore', 'ignore']})
    const c: ApiContainer = {argv, attempt, child, exited: false, init}
    child.on('exit', () => {
      c.exited = true
    })
    child.on('error', (error) => {
      c.exited = true
      this.log(`kubelet ${vm.name}: cannot start kube-apiserver: ${error.message}`)
    })
    this.containers.set(vm.vmid, c)
    this.log(`kubelet ${vm.name}: kube-apiserver started (attempt ${attempt})`)
  }

  stopAll(): void {
    for (const c of this.containers.values()) if (!c.exited) c.child.kill('SIGTERM')
    this.containers.clear()
  }
}
