/**
 * `kp node patch` on a lab of 1 control plane and 3 workers, as an operator runs it: Deployments
 * with PodDisruptionBudgets, updates published into the lab's repository (a kernel-like package
 * whose postinst asks for a reboot, and a real Debian package), the real `kubectl` sampling every
 * Deployment's ready replicas every second while kp works, kill -9 at random moments with `kp
 * resume` until done; then a second run that changes nothing, and a node that does not come back
 * from its reboot, rolled back with `kp vm rollback` and finished with `kp resume`. The world is
 * checked afterwards: boot ids and the VMs' own boot log, package versions and holds, cordons, the
 * Proxmox request log against the real API schema. Needs root.
 */
import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {teardownLab} from '../../../src/lib/lab/host/index.js'
import {checkRequestLog, type RequestLike} from '../../../src/lib/lab/proxmox/schema.js'
import {parseEnvelope, runKp, spawnKp, tempDir} from '../../helpers/cli.js'
import {isRoot, SshClient, until} from '../host/helpers.js'
import {labKubectl} from '../kube/helpers.js'
import {lowestReady, SHOP_BUDGETS, sampleShop, startShop} from '../kube/shop.js'

if (!isRoot) console.warn('test/lab/node/patch.test.ts: skipped, the lab needs root')

const NODES = {cp1: '10.77.0.11', w1: '10.77.0.12', w2: '10.77.0.13', w3: '10.77.0.14'} as const
type NodeName = keyof typeof NODES
const K8S_PACKAGES = 'kubeadm kubelet kubectl'
/** A real Debian package every lab VM has, published again at a newer version. */
const REAL_PACKAGE = 'procps'
const KERNEL = 'linux-image-kplab'
const started = Date.now()

describe.skipIf(!isRoot)('kp node patch on a lab with workloads and budgets', () => {
  const state = tempDir('kp-patch-lab-')
  const lab = path.join(state, 'lab')
  const config = path.join(lab, 'kp.yaml')
  const kp = (args: string[], timeoutMs = 900_000, env: NodeJS.ProcessEnv = {}) => runKp([...args, '--state-dir', state, '--config', config], {env, timeoutMs})
  const requestsFile = path.join(lab, 'pve', 'proxmox-requests.jsonl')
  const requests = (): RequestLike[] => (existsSync(requestsFile) ? readFileSync(requestsFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as RequestLike) : [])
  let ssh: SshClient
  const kubectl = labKubectl(path.join(state, 'clusters', 'lab', 'admin.conf'))
  /** Every boot a VM logs (kp-lab-init writes one line per boot into its persistent calls log). */
  const boots = async (node: NodeName) => (await ssh.ok(NODES[node], 'sudo cat /var/log/kp-lab/calls.log')).split('\n').filter((l) => l.includes('"cmd":"boot"')).length
  const bootId = async (node: NodeName) => (await ssh.ok(NODES[node], 'cat /proc/sys/kernel/random/boot_id')).trim()
  const versions = async (node: NodeName, packages: string) => (await ssh.ok(NODES[node], `dpkg-query -W -f '\${Package}=\${Version}\\n' ${packages}`)).trim()
  const holds = async (node: NodeName) => (await ssh.ok(NODES[node], 'apt-mark showhold')).trim()
  const nodes = async () => JSON.parse((await kubectl(['get', 'nodes', '-o', 'json'])).stdout) as {items: Array<{metadata: {name: string}; spec: {unschedulable?: boolean}; status: {conditions: Array<{status: string; type: string}>; nodeInfo: {kubeletVersion: string}}}>}
  const cordoned = async () => (await nodes()).items.filter((n) => n.spec.unschedulable).map((n) => n.metadata.name)

  beforeAll(async () => {
    const up = await runKp(['lab', 'up', '--nodes', '4', '--control-planes', '1', '--state-dir', state], {timeoutMs: 20 * 60_000})
    expect(up.code, up.stderr + up.stdout).toBe(0)
    ssh = new SshClient(lab, path.join(lab, 'ssh', 'id_ed25519'), 'debian')
    const boot = await kp(['bootstrap', '--yes'], 20 * 60_000)
    expect(boot.code, boot.stderr + boot.stdout).toBe(0)
    await startShop(kubectl)
  }, 45 * 60_000)

  afterAll(async () => {
    console.log(`patch-lab: ${((Date.now() - started) / 1000).toFixed(0)} s wall time`)
    await runKp(['lab', 'down', '--state-dir', state], {timeoutMs: 120_000})
    await teardownLab({stateDir: lab}, {purge: true}).catch(() => {})
  })

  it('patches every node: upgraded and rebooted exactly once through kill -9 at random moments, budgets held, held packages kept, nodes uncordoned', async () => {
    for (const pkg of [KERNEL, REAL_PACKAGE]) {
      const published = await kp(['lab', 'publish-update', pkg])
      expect(published.code, published.stderr + published.stdout).toBe(0)
    }

    const names = Object.keys(NODES) as NodeName[]
    const before = Object.fromEntries(await Promise.all(names.map(async (n) => [n, {boots: await boots(n), bootId: await bootId(n), holds: await holds(n), k8s: await versions(n, K8S_PACKAGES), pkgs: await versions(n, `${KERNEL} ${REAL_PACKAGE}`)}] as const)))
    const kubelets = Object.fromEntries((await nodes()).items.map((n) => [n.metadata.name, n.status.nodeInfo.kubeletVersion]))

    const dry = await kp(['node', 'patch', '--all', '--dry-run'])
    expect(dry.code, dry.stderr).toBe(0)
    for (const n of names) expect(dry.stdout).toContain(n)
    expect(dry.stdout).toContain(KERNEL)

    const sampler = sampleShop(kubectl)
    const kills: number[] = []
    let run = spawnKp(['node', 'patch', '--all', '--yes', '--state-dir', state, '--config', config])
    let result = await killAtRandom(run, kills)
    while (result.code !== 0) {
      expect(result.code, `kp stopped on its own: ${result.stderr}${result.stdout}`).toBe(137)
      run = spawnKp(['resume', '--yes', '--state-dir', state, '--config', config])
      result = await killAtRandom(run, kills)
    }

    const samples = await sampler.stop()
    console.log(`patch-lab: killed at ${kills.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')}; ${samples.length} availability samples, ${samples.filter((s) => !s.ready).length} without an answer`)
    expect(kills.length).toBeGreaterThan(0)
    const {answered, lowest} = lowestReady(samples)
    expect(answered).toBeGreaterThan(30)
    for (const [deployment, minAvailable] of Object.entries(SHOP_BUDGETS)) expect(lowest[deployment], `${deployment}'s ready replicas`).toBeGreaterThanOrEqual(minAvailable)

    for (const n of names) {
      expect(await boots(n), `${n} booted exactly once more`).toBe(before[n]!.boots + 1)
      expect(await bootId(n), n).not.toBe(before[n]!.bootId)
      expect(await versions(n, K8S_PACKAGES), n).toBe(before[n]!.k8s)
      expect(await holds(n), n).toBe(before[n]!.holds)
      const now = await versions(n, `${KERNEL} ${REAL_PACKAGE}`)
      expect(now, n).not.toBe(before[n]!.pkgs)
      expect(now, n).toMatch(/\+kplab/)
      expect((await ssh.run(NODES[n], 'test -e /var/run/reboot-required')).code, n).not.toBe(0)
    }

    const after = await nodes()
    expect(after.items.filter((n) => n.spec.unschedulable).map((n) => n.metadata.name)).toEqual([])
    for (const node of after.items) {
      expect(node.status.conditions.find((c) => c.type === 'Ready')?.status, node.metadata.name).toBe('True')
      expect(node.status.nodeInfo.kubeletVersion).toBe(kubelets[node.metadata.name])
    }
  }, 40 * 60_000)

  it('a second kp node patch --all right after changes nothing and reboots nothing', async () => {
    const names = Object.keys(NODES) as NodeName[]
    const before = await Promise.all(names.map((n) => boots(n)))
    const again = await kp(['node', 'patch', '--all', '--yes', '--json'])
    expect(again.code, again.stderr).toBe(0)
    expect(parseEnvelope<{changed: number}>(again.stdout).result!.changed).toBe(0)
    expect(await Promise.all(names.map((n) => boots(n)))).toEqual(before)
  }, 10 * 60_000)

  it('a node that does not come back: stopped, left cordoned, the snapshot named; kp vm rollback then kp resume finishes', async () => {
    expect((await kp(['lab', 'publish-update', KERNEL])).code).toBe(0)
    expect((await kp(['lab', 'fault', 'w3', '--no-boot'])).code).toBe(0)
    // The reboot wait shortened from its 10 minutes: the node is not coming back in any case.
    const failed = await kp(['node', 'patch', 'w3', '--yes'], 20 * 60_000, {KP_PATCH_WAIT_MS: '90000'})
    expect(failed.code, failed.stderr + failed.stdout).toBe(1)
    expect(failed.stderr).toContain('w3')
    expect(failed.stderr).toMatch(/Runbook: runbooks\/node-patch\.md § Reboot the node/)
    expect(failed.stderr).toContain('It stays cordoned')
    const rollback = /kp vm rollback (\S+) w3/.exec(failed.stderr)
    expect(rollback, failed.stderr).not.toBeNull()
    expect(await cordoned()).toEqual(['w3'])

    const back = await kp(['vm', 'rollback', rollback![1]!, 'w3', '--yes'], 10 * 60_000)
    expect(back.code, back.stderr + back.stdout).toBe(0)
    const resume = await kp(['resume', '--yes'], 20 * 60_000)
    expect(resume.code, resume.stderr + resume.stdout).toBe(0)
    expect(await cordoned()).toEqual([])
    await until('w3 Ready', async () => (await nodes()).items.find((n) => n.metadata.name === 'w3')?.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True') === true, 120_000)
  }, 30 * 60_000)

  it('a dpkg lock someone else holds: waited for, then the run fails naming the holder; once it is gone kp resume finishes', async () => {
    expect((await kp(['lab', 'publish-update', KERNEL])).code).toBe(0)
    expect((await kp(['lab', 'fault', 'w1', '--dpkg-lock'])).code).toBe(0)
    const locked = await kp(['node', 'patch', 'w1', '--yes', '--lock-timeout', '5'], 10 * 60_000)
    expect(locked.code, locked.stderr + locked.stdout).toBe(1)
    expect(locked.stderr).toMatch(/w1/)
    expect(locked.stderr).toMatch(/unattended-upgr/)
    expect(await cordoned()).toEqual(['w1'])
    expect((await kp(['lab', 'fault', 'w1', '--dpkg-unlock'])).code).toBe(0)
    const resume = await kp(['resume', '--yes'], 10 * 60_000)
    expect(resume.code, resume.stderr + resume.stdout).toBe(0)
    expect(await cordoned()).toEqual([])
    expect(await versions('w1', KERNEL)).toMatch(/\+kplab/)
  }, 20 * 60_000)

  it('a kubelet that stays NotReady after the reboot: stopped, cordoned; fixed, kp resume finishes', async () => {
    expect((await kp(['lab', 'publish-update', KERNEL])).code).toBe(0)
    expect((await kp(['lab', 'fault', 'w2', '--kubelet-not-ready-after-reboot'])).code).toBe(0)
    const bootsBefore = await boots('w2')
    const failed = await kp(['node', 'patch', 'w2', '--yes'], 10 * 60_000, {KP_PATCH_WAIT_MS: '30000'})
    expect(failed.code, failed.stderr + failed.stdout).toBe(1)
    expect(failed.stderr).toMatch(/w2 is not back after its reboot: .*w2 is not Ready/)
    expect(await cordoned()).toEqual(['w2'])
    expect((await kp(['lab', 'fault', 'w2', '--kubelet-up'])).code).toBe(0)
    const resume = await kp(['resume', '--yes'], 10 * 60_000)
    expect(resume.code, resume.stderr + resume.stdout).toBe(0)
    expect(await cordoned()).toEqual([])
    // Rebooted once, not again by the resume.
    expect(await boots('w2')).toBe(bootsBefore + 1)
  }, 20 * 60_000)

  it("sent Proxmox only requests the real API schema accepts", () => {
    const log = requests()
    expect(log.some((r) => r.method === 'POST' && /\/snapshot$/.test(r.path))).toBe(true)
    expect(checkRequestLog(log)).toEqual([])
  })
})

/**
 * Let the run work a random while (5–60 s: past the journal's first write, into any step), then
 * kill -9 it; after three kills the run is left to finish.
 */
async function killAtRandom(run: ReturnType<typeof spawnKp>, kills: number[]) {
  if (kills.length >= 3) return run.done
  const delayMs = 5000 + Math.floor(Math.random() * 55_000)
  const timer = setTimeout(() => {
    kills.push(delayMs)
    run.child.kill('SIGKILL')
  }, delayMs)
  const result = await run.done
  clearTimeout(timer)
  return result
}
