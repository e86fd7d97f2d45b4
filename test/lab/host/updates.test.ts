/**
 * The lab's OS updates and the faults of a patch run, on one real lab VM (`kp lab up --nodes 1`,
 * `kp vm seed`): the updates repository every VM has as an apt source, `kp lab publish-update` of a
 * real Debian package and of the kernel-like linux-image-kplab, a real `apt-get upgrade` that writes
 * /var/run/reboot-required as Debian's kernel hooks do, a reboot that clears it; then `kp lab fault`
 * --dpkg-lock (apt's own "Could not get lock" naming the holder) and --no-boot (running for
 * Proxmox, unreachable, back after `kp vm rollback` to a snapshot taken before) and
 * --kubelet-not-ready-after-reboot (in force from the next boot on). Needs root.
 */
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {teardownLab} from '../../../src/lib/lab/host/index.js'
import type {LabStatusResult} from '../../../src/lib/lab/cli/inspect.js'
import type {PublishUpdateResult} from '../../../src/lib/lab/cli/publish.js'
import {parseEnvelope, runKp, tempDir} from '../../helpers/cli.js'
import {isRoot, SshClient, until} from './helpers.js'

if (!isRoot) console.warn('test/lab/host/updates.test.ts: skipped, the lab needs root')

const IP = '10.77.0.11'
const started = Date.now()

describe.skipIf(!isRoot)('lab updates and patch faults', () => {
  const state = tempDir('kp-updates-lab-')
  const lab = path.join(state, 'lab')
  const config = path.join(lab, 'kp.yaml')
  const kp = (args: string[], timeoutMs = 600_000) => runKp([...args, '--state-dir', state, '--config', config], {timeoutMs})
  let ssh: SshClient
  /** What `apt-get -s upgrade` would install: package → candidate version. */
  const upgradable = async () => {
    const out = await ssh.ok(IP, 'sudo apt-get -s upgrade')
    return Object.fromEntries([...out.matchAll(/^Inst (\S+) (?:\[[^\]]*\] )?\((\S+)/gm)].map((m) => [m[1]!, m[2]!]))
  }

  const bootId = async () => (await ssh.ok(IP, 'cat /proc/sys/kernel/random/boot_id')).trim()
  const vmStatus = async () => parseEnvelope<LabStatusResult>((await kp(['lab', 'status', '--json'])).stdout).result!.vms.find((v) => v.name === 'cp1')!
  let baseline: Record<string, string> = {}

  beforeAll(async () => {
    const up = await runKp(['lab', 'up', '--nodes', '1', '--state-dir', state], {timeoutMs: 25 * 60_000})
    expect(up.code, up.stderr + up.stdout).toBe(0)
    const seeded = await kp(['vm', 'seed'])
    expect(seeded.code, seeded.stderr + seeded.stdout).toBe(0)
    ssh = new SshClient(lab, path.join(lab, 'ssh', 'id_ed25519'), 'debian')
  }, 30 * 60_000)

  afterAll(async () => {
    console.log(`updates-lab: ${((Date.now() - started) / 1000).toFixed(0)} s wall time`)
    await runKp(['lab', 'down', '--state-dir', state], {timeoutMs: 120_000})
    await teardownLab({stateDir: lab}, {purge: true}).catch(() => {})
  })

  it('gives every VM the empty, signed updates repository: apt-get update is clean, nothing of the lab to upgrade', async () => {
    expect(await ssh.ok(IP, 'cat /etc/apt/sources.list.d/kp-lab-updates.list')).toContain('deb [signed-by=/usr/share/keyrings/kp-lab-updates.gpg] http://10.77.0.1:8080/kp-lab-updates/ /')
    const update = await ssh.run(IP, 'sudo apt-get update 2>&1')
    expect(update.code, update.stdout).toBe(0)
    expect(update.stdout).toContain('http://10.77.0.1:8080/kp-lab-updates  InRelease')
    expect(update.stdout).not.toMatch(/^(W|E|Err):/m)
    baseline = await upgradable()
    // Debian's own archive may have moved on since the image was built; the lab adds nothing yet.
    if (Object.keys(baseline).length > 0) console.log(`updates-lab: Debian updates since the image build: ${JSON.stringify(baseline)}`)
    expect(Object.values(baseline).filter((v) => v.includes('kplab'))).toEqual([])
    expect(await ssh.ok(IP, 'dpkg-query -W -f "\\${Version}" linux-image-kplab')).toBe('6.1.0-kplab1')
    expect(await ssh.ok(IP, 'ls /boot')).toContain('vmlinuz-6.1.0-kplab1')
  }, 5 * 60_000)

  it('refuses what it cannot publish, naming what to do', async () => {
    const kubelet = await kp(['lab', 'publish-update', 'kubelet'])
    expect(kubelet.code).toBe(2)
    expect(kubelet.stderr).toMatch(/kubelet comes from the lab's Kubernetes repositories/)
    const missing = await kp(['lab', 'publish-update', 'nginx'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/nginx is not installed in the lab's node image/)
    const older = await kp(['lab', 'publish-update', 'procps', '--version', '1:1.0'])
    expect(older.code).toBe(2)
    expect(older.stderr).toMatch(/is not newer than the installed/)
  }, 5 * 60_000)

  it('publishes real packages, newer each time; apt-get upgrade installs them and asks for a reboot as Debian does', async () => {
    const first = await kp(['lab', 'publish-update', 'procps', '--json'])
    expect(first.code, first.stderr).toBe(0)
    const procps = parseEnvelope<PublishUpdateResult>(first.stdout).result!.published[0]!
    expect(procps).toMatchObject({package: 'procps', rebootRequired: false, source: 'apt-cacher-ng'})
    expect(procps.version).toBe(`${procps.installed}+kplab1`)
    const again = await kp(['lab', 'publish-update', 'procps', 'linux-image-kplab'])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toContain(`Published procps ${procps.installed}+kplab2`)
    expect(again.stdout).toContain('Published linux-image-kplab 6.1.0-kplab1+kplab1 (installed: 6.1.0-kplab1; repacked from the node image), needs a reboot.')
    expect(again.stdout).toContain('deb [signed-by=/usr/share/keyrings/kp-lab-updates.gpg] http://10.77.0.1:8080/kp-lab-updates/ /')

    const update = await ssh.run(IP, 'sudo apt-get update 2>&1')
    expect(update.stdout).not.toMatch(/^(W|E|Err):/m)
    expect(await upgradable()).toEqual({...baseline, 'linux-image-kplab': '6.1.0-kplab1+kplab1', procps: `${procps.installed}+kplab2`})
    expect(await ssh.run(IP, 'test -e /var/run/reboot-required')).toMatchObject({code: 1})

    await ssh.ok(IP, 'sudo DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -o Dpkg::Options::=--force-confold')
    expect(await ssh.ok(IP, 'dpkg-query -W -f "\\${Package}=\\${Version}\\n" procps linux-image-kplab | sort')).toBe(`linux-image-kplab=6.1.0-kplab1+kplab1\nprocps=${procps.installed}+kplab2\n`)
    expect(await upgradable()).toEqual({})
    // The real procps still works, and the lab's sysctl stub still stands in for its sysctl.
    expect(await ssh.ok(IP, 'ps -p 1 -o comm=')).toContain('kp-lab-init')
    expect(await ssh.ok(IP, 'readlink /usr/sbin/sysctl')).toBe('/usr/lib/kp-lab/stubs/sysctl\n')
    expect(await ssh.ok(IP, 'cat /var/run/reboot-required')).toBe('*** System restart required ***\n')
    expect(await ssh.ok(IP, 'cat /var/run/reboot-required.pkgs')).toBe('linux-image-kplab\n')

    const before = await bootId()
    await ssh.run(IP, 'sudo reboot', {timeoutMs: 30_000})
    await ssh.waitUp(IP, 120_000)
    expect(await bootId()).not.toBe(before)
    expect(await ssh.ok(IP, 'ls /var/run/reboot-required* 2>/dev/null || echo none')).toBe('none\n')
  }, 10 * 60_000)

  it('--reboot-required makes any package ask for a reboot', async () => {
    const published = await kp(['lab', 'publish-update', 'procps', '--reboot-required'])
    expect(published.code, published.stderr).toBe(0)
    await ssh.ok(IP, 'sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -qq')
    expect(await ssh.ok(IP, 'cat /var/run/reboot-required.pkgs')).toBe('procps\n')
  }, 5 * 60_000)

  it('--dpkg-lock: apt-get fails with its own message naming the holder, until --dpkg-unlock', async () => {
    const set = await kp(['lab', 'fault', 'cp1', '--dpkg-lock'])
    expect(set.code, set.stderr).toBe(0)
    expect((await vmStatus()).faults).toMatchObject({dpkgLock: true})
    const locked = await ssh.run(IP, 'sudo apt-get install -y procps 2>&1')
    expect(locked.code).not.toBe(0)
    expect(locked.stdout).toMatch(/Could not get lock \/var\/lib\/dpkg\/lock-frontend\. It is held by process \d+ \(unattended-upgr\)/)
    expect((await kp(['lab', 'fault', 'cp1', '--dpkg-unlock'])).code).toBe(0)
    await ssh.ok(IP, 'sudo apt-get install -y procps')
    expect((await vmStatus()).faults).not.toHaveProperty('dpkgLock')
  }, 5 * 60_000)

  it('--no-boot: the next boot hangs, running for Proxmox but unreachable, until kp vm rollback to a snapshot from before', async () => {
    const snap = await kp(['vm', 'snapshot', 'before-nb', '--yes'])
    expect(snap.code, snap.stderr + snap.stdout).toBe(0)
    expect((await kp(['lab', 'fault', 'cp1', '--no-boot'])).code).toBe(0)
    const before = await bootId()
    await ssh.run(IP, 'sudo reboot', {timeoutMs: 30_000})
    await until('the VM to go down', async () => ((await ssh.run(IP, 'true', {timeoutMs: 10_000})).code === 0 ? undefined : true), 60_000)
    await new Promise((resolve) => setTimeout(resolve, 5000))
    const hung = await vmStatus()
    expect(hung).toMatchObject({booted: false, faults: {noBoot: true}, running: true})
    expect((await ssh.run(IP, 'true', {timeoutMs: 10_000})).code).not.toBe(0)

    const rollbackStarted = Date.now()
    const rollback = await kp(['vm', 'rollback', 'before-nb', '--yes'], 600_000)
    const seconds = (Date.now() - rollbackStarted) / 1000
    console.log(`updates-lab: kp vm rollback of the hung VM took ${seconds.toFixed(0)} s`)
    expect(rollback.code, rollback.stderr + rollback.stdout).toBe(0)
    // No guest agent answers a hung boot: kp stops the VM at once instead of waiting out a shutdown.
    expect(rollback.stdout + rollback.stderr).toMatch(/stop VM \d+: its guest agent does not answer/)
    await ssh.waitUp(IP, 120_000)
    expect(await bootId()).not.toBe(before)
    expect((await vmStatus()).faults).not.toHaveProperty('noBoot')
  }, 15 * 60_000)

  it('--kubelet-not-ready-after-reboot holds from the next boot on, until --clear', async () => {
    expect((await kp(['lab', 'fault', 'cp1', '--kubelet-not-ready-after-reboot'])).code).toBe(0)
    const armed = await vmStatus()
    expect(armed.faults).toMatchObject({kubeletNotReadyAfterReboot: true})
    expect(armed).not.toHaveProperty('kubeletNotReady')
    await ssh.run(IP, 'sudo reboot', {timeoutMs: 30_000})
    await ssh.waitUp(IP, 120_000)
    expect(await vmStatus()).toMatchObject({kubeletNotReady: true})
    expect((await kp(['lab', 'fault', '--clear'])).code).toBe(0)
    const cleared = await vmStatus()
    expect(cleared).not.toHaveProperty('kubeletNotReady')
    expect(cleared.faults).toEqual({})
  }, 5 * 60_000)
})
