/**
 * The lab's VMs as real hosts: each VM's disk is an overlay on the node image (a linked clone adds
 * the template's layer below; a full clone copies it), and a running VM is a tiny container — its
 * own network namespace with a veth into the lab bridge, its own PID, mount, UTS and IPC
 * namespaces, the image's init as PID 1 and the image's sshd on port 22. One detached supervisor
 * script per VM (lab/assets/host/vm-supervise.sh) plays the part of the VM's qemu process, so VMs
 * outlive the process that started them and `teardownLab` can always find them.
 */
import {spawn} from 'node:child_process'
import {closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {ExternalCommandError, UsageError} from '../../errors.js'
import type {GuestInterface, VmBackend, VmSpec} from '../backend.js'
import {seedEnv, toGuestInterfaces, validateCloudInit, vmMac} from './guest.js'
import {labEnv, run} from './exec.js'
import {pidAlive, readPid} from './lock.js'
import {assetsDir, inSubnet, type ResolvedLabOptions, statePaths, vmNames} from './options.js'
import {preflight, VM_TOOLS} from './preflight.js'
import {killAll, netnsPids, processesInPidNamespaceOf, removeTree, unmountUnder, waitGone} from './system.js'

/** Host-side faults of one VM (the lab's "faults on demand"). */
export interface VmFaults {
  /** The guest agent never answers (ping false, interfaces and file reads undefined). */
  agentSilent?: boolean
  /** Cut the connection of the next N SSH sessions as they start. */
  dropNextSshSessions?: number
  /** Seconds the VM stays down on reboot (a slow reboot). */
  rebootDelaySeconds?: number
  /**
   * The VM's next boots hang before its OS runs (no network, SSH, agent or kubelet) while Proxmox
   * shows it running, as with a broken kernel; a snapshot rollback of its disk clears it.
   */
  noBoot?: boolean
  /** After the VM's next boot its kubelet runs but the node stays NotReady. */
  kubeletNotReadyAfterReboot?: boolean
  /** The boot the kubelet fault was set in (it applies to later boots only). */
  kubeletFaultBootId?: string
  /** A process in the VM holds dpkg's locks (lock-frontend and lock) as apt does. */
  dpkgLock?: boolean
}

/** The file vm-supervise.sh looks for before each boot: present, the boot hangs. */
const NO_BOOT_FILE = 'no-boot'
/** In the VM (/run: gone with the boot): the PID of the process holding dpkg's locks. */
const DPKG_LOCK_PID = '/run/kp-lab/dpkg-lock.pid'

/**
 * Takes dpkg's two locks the way apt does (fcntl F_SETLK write locks on lock-frontend, then lock),
 * so apt-get and dpkg report the holder ("It is held by process N (unattended-upgr)"), and keeps them.
 * Perl, as perl-base is essential in Debian; $0 names it like the unattended-upgrades that usually
 * holds the lock on a fresh node.
 */
const DPKG_LOCK_HOLDER = `use strict; use Fcntl qw(F_SETLK F_WRLCK SEEK_SET O_RDWR O_CREAT);
$0 = "unattended-upgr";
my @held;
for my $path ("/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock") {
  sysopen(my $fh, $path, O_RDWR | O_CREAT, 0640) or die "open $path: $!";
  my $lock = pack("s s x4 q q i x4", F_WRLCK, SEEK_SET, 0, 0, 0);
  fcntl($fh, F_SETLK, $lock) or die "lock $path: $!";
  push @held, $fh;
}
open(my $pid, ">", "${DPKG_LOCK_PID}") or die; print $pid "$$\n"; close $pid;
sleep 3600 while 1;`

interface DiskMeta {
  /** Overlay lower layers, top first: a linked clone's template layer(s), then the image. */
  lowers: string[]
  sizeBytes?: number
  source: {full: boolean; template: number}
}

export interface RuntimeHooks {
  /** The node image folder (building it when needed). */
  image: () => Promise<string>
  /** Makes sure the lab network (bridge, lock) is up before a VM plugs into it. */
  network: () => Promise<void>
}

export class HostRuntime implements VmBackend {
  constructor(
    private readonly options: ResolvedLabOptions,
    private readonly hooks: RuntimeHooks,
  ) {}

  vmDir(vmid: number): string {
    return statePaths(this.options.stateDir).vm(vmid)
  }

  private file(vmid: number, name: string): string {
    return path.join(this.vmDir(vmid), name)
  }

  private readDisk(vmid: number): DiskMeta | undefined {
    try {
      return JSON.parse(readFileSync(this.file(vmid, 'disk.json'), 'utf8')) as DiskMeta
    } catch {
      return undefined
    }
  }

  private writeDisk(vmid: number, disk: DiskMeta): void {
    writeFileSync(this.file(vmid, 'disk.json'), `${JSON.stringify(disk, null, 2)}\n`)
  }

  /** VMs that have a disk in this lab. */
  vmids(): number[] {
    try {
      return readdirSync(statePaths(this.options.stateDir).vms)
        .map(Number)
        .filter((vmid) => Number.isInteger(vmid) && this.readDisk(vmid) !== undefined)
        .sort((a, b) => a - b)
    } catch {
      return []
    }
  }

  /** Every overlay lower layer this lab's disks use (their image among them). */
  diskLowers(): string[] {
    return this.vmids().flatMap((vmid) => this.readDisk(vmid)?.lowers ?? [])
  }

  async clone(templateVmid: number, vmid: number, full: boolean): Promise<void> {
    if (this.readDisk(vmid)) throw new UsageError(`VM ${vmid} already has a disk`)
    const dir = this.vmDir(vmid)
    mkdirSync(path.join(dir, 'disk', 'work'), {recursive: true})
    const template = this.readDisk(templateVmid)
    const templateUpper = path.join(this.vmDir(templateVmid), 'disk', 'upper')
    let lowers: string[]
    if (!template) {
      // The lab's template VM is the image itself until something is written to it.
      lowers = [await this.hooks.image()]
      mkdirSync(path.join(dir, 'disk', 'upper'))
    } else if (full) {
      await run('cp', ['-a', '--reflink=auto', templateUpper, path.join(dir, 'disk', 'upper')])
      lowers = template.lowers
    } else {
      lowers = [templateUpper, ...template.lowers]
      mkdirSync(path.join(dir, 'disk', 'upper'))
    }

    this.writeDisk(vmid, {lowers, source: {full, template: templateVmid}})
  }

  async destroy(vmid: number): Promise<void> {
    await this.stop(vmid)
    const upper = path.join(this.vmDir(vmid), 'disk', 'upper')
    const users = this.vmids().filter((other) => other !== vmid && this.readDisk(other)?.lowers.includes(upper))
    if (users.length > 0) throw new UsageError(`VM ${vmid}'s disk is the base of linked clones ${users.join(', ')}`)
    await removeTree(this.vmDir(vmid))
  }

  async resize(vmid: number, sizeBytes: number): Promise<void> {
    const disk = this.requireDisk(vmid)
    this.writeDisk(vmid, {...disk, sizeBytes})
  }

  private requireDisk(vmid: number): DiskMeta {
    const disk = this.readDisk(vmid)
    if (!disk) throw new UsageError(`VM ${vmid} has no disk in the lab (clone it first)`)
    return disk
  }

  // --- power -------------------------------------------------------------------------------

  private supervisorPid(vmid: number): number | undefined {
    const pid = readPid(this.file(vmid, 'supervisor.pid'))
    if (pid === undefined || !pidAlive(pid)) return undefined
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(this.vmDir(vmid)) ? pid : undefined
    } catch {
      return undefined
    }
  }

  /** The host PID of the VM's init (its PID 1), while it is up. */
  initPid(vmid: number): number | undefined {
    if (this.supervisorPid(vmid) === undefined) return undefined
    const pid = readPid(this.file(vmid, 'init.pid'))
    return pid !== undefined && pidAlive(pid) ? pid : undefined
  }

  async running(vmid: number): Promise<boolean> {
    return this.supervisorPid(vmid) !== undefined
  }

  /** Whether the guest finished booting (its init started sshd). */
  booted(vmid: number): boolean {
    const pid = this.initPid(vmid)
    return pid !== undefined && existsSync(`/proc/${pid}/root/run/kp-lab/booted`)
  }

  /** Whether a systemd unit is active inside a booted VM, as the image's systemctl stub records it. */
  serviceActive(vmid: number, unit: string): boolean {
    const pid = this.initPid(vmid)
    return pid !== undefined && this.booted(vmid) && existsSync(`/proc/${pid}/root/var/lib/kp-lab/services/active/${unit}`)
  }

  async start(spec: VmSpec): Promise<void> {
    const {vmid} = spec
    if (await this.running(vmid)) return
    const disk = this.requireDisk(vmid)
    validateCloudInit(vmid, spec.cloudInit)
    const {network} = this.options
    if (spec.cloudInit.ip && !inSubnet(spec.cloudInit.ip.split('/')[0] ?? '', network.subnet)) {
      throw new UsageError(`VM ${vmid}: cloud-init ip ${spec.cloudInit.ip} is outside the lab subnet ${network.subnet}`)
    }

    preflight(VM_TOOLS)
    await this.hooks.network()
    await this.cleanup(vmid)
    const dir = this.vmDir(vmid)
    mkdirSync(path.join(dir, 'seed'), {recursive: true})
    mkdirSync(path.join(dir, 'root'), {recursive: true})
    writeFileSync(path.join(dir, 'seed', 'meta.env'), seedEnv(vmid, spec.cloudInit))
    writeFileSync(path.join(dir, 'seed', 'authorized_keys'), spec.cloudInit.sshAuthorizedKeys.map((k) => `${k.trim()}\n`).join(''))
    const names = vmNames(vmid)
    const env = {
      KPLAB_BRIDGE: network.bridge,
      KPLAB_LOWER: disk.lowers.join(':'),
      KPLAB_MAC: vmMac(vmid, spec.config),
      KPLAB_NETNS: names.netns,
      KPLAB_ROOT: path.join(dir, 'root'),
      KPLAB_VETH: names.veth,
      KPLAB_VMID: String(vmid),
    }
    writeFileSync(path.join(dir, 'vm.env'), Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join(''))
    if (!existsSync(this.file(vmid, 'reboot-delay'))) this.writeRebootDelay(vmid, this.options.rebootDelaySeconds)

    const consoleFile = this.file(vmid, 'console.log')
    const out = openSync(consoleFile, 'a')
    const child = spawn('/bin/bash', [path.join(assetsDir(), 'host', 'vm-supervise.sh'), dir], {detached: true, env: labEnv(), stdio: ['ignore', out, out]})
    closeSync(out)
    child.unref()

    const deadline = Date.now() + 20_000
    // A boot that hangs (no-boot fault) never gets an init: the VM is up once its supervisor is.
    while (this.initPid(vmid) === undefined && !(this.hungAtBoot(vmid) && existsSync(this.file(vmid, 'supervisor.pid')))) {
      if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
        await this.stop(vmid)
        throw new ExternalCommandError(`VM ${vmid} did not start${consoleTail(consoleFile)}`)
      }

      await sleep(20)
    }
  }

  /** Hard power-off: ends every process of the VM at once. */
  async stop(vmid: number): Promise<void> {
    const supervisor = this.supervisorPid(vmid)
    if (supervisor !== undefined) {
      killAll([supervisor], 'SIGTERM')
      if (!(await waitGone([supervisor], 10_000))) killAll([supervisor])
    }

    await this.cleanup(vmid)
  }

  /** Removes whatever a VM left on the host (after a crash too): processes, namespace, mount. */
  private async cleanup(vmid: number): Promise<void> {
    const names = vmNames(vmid)
    const init = readPid(this.file(vmid, 'init.pid'))
    const pids = [...(init === undefined ? [] : processesInPidNamespaceOf(init)), ...(await netnsPids(names.netns))]
    killAll(pids)
    await waitGone(pids, 10_000)
    await run('ip', ['netns', 'del', names.netns], {allowFailure: true})
    await run('ip', ['link', 'del', names.veth], {allowFailure: true})
    await unmountUnder(path.join(this.vmDir(vmid), 'root'))
    for (const f of ['init.pid', 'supervisor.pid']) await removeTree(this.file(vmid, f))
  }

  async shutdown(vmid: number, {forceStop = false, timeoutMs = 60_000}: {forceStop?: boolean; timeoutMs?: number} = {}): Promise<void> {
    const supervisor = this.supervisorPid(vmid)
    if (supervisor === undefined) return
    const init = this.initPid(vmid)
    if (init === undefined && this.hungAtBoot(vmid)) {
      // No OS to hear the ACPI button: Proxmox waits out the timeout, then stops it only if asked to.
      await sleep(timeoutMs)
      if (!forceStop) throw new ExternalCommandError(`VM ${vmid} quit/powerdown failed - got timeout`)
      await this.stop(vmid)
      return
    }

    if (init === undefined || !this.booted(vmid)) {
      await this.stop(vmid)
      return
    }

    // The init treats SIGTERM as an ACPI power button press.
    killAll([init], 'SIGTERM')
    if (!(await waitGone([supervisor], timeoutMs))) {
      if (!forceStop) throw new ExternalCommandError(`VM ${vmid} did not shut down within ${timeoutMs / 1000} s`)
      await this.stop(vmid)
      return
    }

    await this.cleanup(vmid)
  }

  async reboot(vmid: number): Promise<void> {
    if (!(await this.running(vmid))) throw new UsageError(`VM ${vmid} is not running`)
    const init = this.initPid(vmid)
    // Between two boots already: nothing to take down.
    if (init === undefined) return
    // SIGUSR2 asks the init for a clean reboot.
    killAll([init], 'SIGUSR2')
    await waitGone([init], 30_000)
  }

  // --- snapshots -----------------------------------------------------------------------------

  private snapshotDir(vmid: number, name: string): string {
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,39}$/.test(name)) throw new UsageError(`invalid snapshot name ${JSON.stringify(name)}`)
    return path.join(this.vmDir(vmid), 'snapshots', name)
  }

  async snapshot(vmid: number, name: string): Promise<void> {
    this.requireDisk(vmid)
    const dir = this.snapshotDir(vmid, name)
    if (existsSync(dir)) throw new UsageError(`VM ${vmid} already has a snapshot named ${name}`)
    mkdirSync(dir, {recursive: true})
    await run('cp', ['-a', '--reflink=auto', path.join(this.vmDir(vmid), 'disk', 'upper'), path.join(dir, 'upper')])
  }

  async snapshotDelete(vmid: number, name: string): Promise<void> {
    await removeTree(this.snapshotDir(vmid, name))
  }

  async snapshotRollback(vmid: number, name: string): Promise<void> {
    const dir = this.snapshotDir(vmid, name)
    if (!existsSync(path.join(dir, 'upper'))) throw new UsageError(`VM ${vmid} has no snapshot named ${name}`)
    await this.stop(vmid)
    const disk = path.join(this.vmDir(vmid), 'disk')
    await removeTree(path.join(disk, 'upper'))
    await removeTree(path.join(disk, 'work'))
    await run('cp', ['-a', '--reflink=auto', path.join(dir, 'upper'), path.join(disk, 'upper')])
    mkdirSync(path.join(disk, 'work'))
    // The disk that did not boot is gone with the rollback, and so is the fault.
    if (this.faults(vmid).noBoot) await this.setFaults(vmid, {noBoot: false})
  }

  snapshots(vmid: number): string[] {
    try {
      return readdirSync(path.join(this.vmDir(vmid), 'snapshots')).sort()
    } catch {
      return []
    }
  }

  // --- guest agent ---------------------------------------------------------------------------

  /** The host-side faults in force for a VM. */
  faults(vmid: number): VmFaults {
    let faults: VmFaults
    try {
      faults = JSON.parse(readFileSync(this.file(vmid, 'faults.json'), 'utf8')) as VmFaults
    } catch {
      return {}
    }

    // The holder goes with the boot that ran it (a reboot ends every process).
    if (faults.dpkgLock && !this.inVm(vmid, DPKG_LOCK_PID)) delete faults.dpkgLock
    return faults
  }

  /** Whether a path exists inside the running VM. */
  private inVm(vmid: number, file: string): boolean {
    const init = this.initPid(vmid)
    return init !== undefined && existsSync(`/proc/${init}/root${file}`)
  }

  /** The running boot's id, as the guest sees it in /proc/sys/kernel/random/boot_id. */
  bootId(vmid: number): string | undefined {
    const init = this.initPid(vmid)
    if (init === undefined) return undefined
    try {
      return readFileSync(`/proc/${init}/root/run/kp-lab/boot_id`, 'utf8').trim()
    } catch {
      return undefined
    }
  }

  /** The VM runs but its boot hangs (the no-boot fault): no init, nothing answers. */
  hungAtBoot(vmid: number): boolean {
    return this.supervisorPid(vmid) !== undefined && existsSync(this.file(vmid, NO_BOOT_FILE))
  }

  /** The kubelet-not-ready-after-reboot fault applies now: the VM booted again since it was set. */
  kubeletHeldNotReady(vmid: number): boolean {
    const f = this.faults(vmid)
    const boot = this.bootId(vmid)
    return f.kubeletNotReadyAfterReboot === true && boot !== undefined && boot !== f.kubeletFaultBootId
  }

  /** The agent's view: the init's PID while the guest is booted and the agent is not faulted. */
  private agent(vmid: number): number | undefined {
    if (this.faults(vmid).agentSilent || !this.booted(vmid)) return undefined
    return this.initPid(vmid)
  }

  async agentPing(vmid: number): Promise<boolean> {
    return this.agent(vmid) !== undefined
  }

  async agentInterfaces(vmid: number): Promise<GuestInterface[] | undefined> {
    if (this.agent(vmid) === undefined) return undefined
    const {stdout} = await run('ip', ['-n', vmNames(vmid).netns, '-j', 'addr', 'show'])
    return toGuestInterfaces(stdout)
  }

  async agentFileRead(vmid: number, file: string): Promise<string | undefined> {
    const init = this.agent(vmid)
    if (init === undefined) return undefined
    const result = await run('nsenter', ['-t', String(init), '-m', '-r', '--', '/bin/cat', '--', file], {allowFailure: true})
    if (result.code !== 0) {
      throw new ExternalCommandError(`guest-file-open failed: Failed to open file '${file}' (mode: 'r'): ${result.stderr.replace(/^.*: /, '').trim()}`)
    }

    return result.stdout
  }

  /** Runs a command inside a running VM as root (like `qm guest exec`), for the lab and its tests. */
  async guestExec(vmid: number, argv: readonly string[], input?: string): Promise<{code: number; stderr: string; stdout: string}> {
    const init = this.initPid(vmid)
    if (init === undefined) throw new UsageError(`VM ${vmid} is not running`)
    return run('nsenter', ['-t', String(init), '-m', '-u', '-i', '-n', '-p', '-r', '-w', '--', ...argv], {allowFailure: true, env: guestEnv(), input})
  }

  // --- faults --------------------------------------------------------------------------------

  private writeRebootDelay(vmid: number, seconds: number): void {
    writeFileSync(this.file(vmid, 'reboot-delay'), `${seconds}\n`)
  }

  async setFaults(vmid: number, faults: VmFaults): Promise<void> {
    this.requireDisk(vmid)
    const before = this.faults(vmid)
    const {dropNextSshSessions, ...merged} = {...before, ...faults}
    if (faults.kubeletNotReadyAfterReboot && !before.kubeletNotReadyAfterReboot) merged.kubeletFaultBootId = this.bootId(vmid) ?? ''
    if (faults.dpkgLock === true && !before.dpkgLock) await this.holdDpkgLock(vmid)
    if (faults.dpkgLock === false && before.dpkgLock) await this.releaseDpkgLock(vmid)
    // Only what is in force is kept (false and undefined say "off").
    const kept = Object.fromEntries(Object.entries(merged).filter(([k, v]) => v !== false && v !== undefined && (k !== 'kubeletFaultBootId' || merged.kubeletNotReadyAfterReboot))) as VmFaults
    writeFileSync(this.file(vmid, 'faults.json'), `${JSON.stringify(kept)}\n`)
    if (kept.noBoot) writeFileSync(this.file(vmid, NO_BOOT_FILE), '')
    else await removeTree(this.file(vmid, NO_BOOT_FILE))
    this.writeRebootDelay(vmid, kept.rebootDelaySeconds ?? this.options.rebootDelaySeconds)
    if (dropNextSshSessions !== undefined) {
      const {code, stderr} = await this.guestExec(vmid, ['/bin/sh', '-c', 'printf "%s\\n" "$1" > /run/kp-lab/ssh-drop', 'sh', String(dropNextSshSessions)])
      if (code !== 0) throw new ExternalCommandError(`VM ${vmid}: cannot set the SSH drop fault: ${stderr.trim()}`)
    }
  }

  private async holdDpkgLock(vmid: number): Promise<void> {
    if (!this.booted(vmid)) throw new UsageError(`VM ${vmid} is not up: a dpkg lock needs a running guest`)
    const started = await this.guestExec(vmid, ['/bin/sh', '-c', 'setsid -f perl -e "$1" </dev/null >/dev/null 2>&1', 'sh', DPKG_LOCK_HOLDER])
    if (started.code !== 0) throw new ExternalCommandError(`VM ${vmid}: cannot start the dpkg lock holder: ${started.stderr.trim()}`)
    const deadline = Date.now() + 10_000
    while (!this.inVm(vmid, DPKG_LOCK_PID)) {
      if (Date.now() > deadline) throw new ExternalCommandError(`VM ${vmid}: the dpkg lock holder did not take the lock (is apt or dpkg running?)`)
      await sleep(50)
    }
  }

  private async releaseDpkgLock(vmid: number): Promise<void> {
    if (!this.inVm(vmid, DPKG_LOCK_PID)) return
    await this.guestExec(vmid, ['/bin/sh', '-c', `kill "$(cat ${DPKG_LOCK_PID})" && rm -f ${DPKG_LOCK_PID}`])
  }

  /** Cuts every open SSH connection to the VM now (sshd's listener stays). Returns how many. */
  async dropSshSessions(vmid: number): Promise<number> {
    const init = this.initPid(vmid)
    if (init === undefined) return 0
    const victims = processesInPidNamespaceOf(init).filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
        const comm = /\((.*)\)/.exec(stat)?.[1]
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
        return comm === 'sshd' && ppid !== init
      } catch {
        return false
      }
    })
    killAll(victims)
    return victims.length
  }
}

function guestEnv(): NodeJS.ProcessEnv {
  return {HOME: '/root', LANG: 'C.UTF-8', PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', TERM: 'dumb'}
}

function consoleTail(file: string): string {
  try {
    const lines = readFileSync(file, 'utf8').trim().split('\n').slice(-10)
    return lines.length > 0 ? `:\n${lines.join('\n')}` : ''
  } catch {
    return ''
  }
}
