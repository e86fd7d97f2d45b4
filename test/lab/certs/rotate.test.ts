/**
 * `kp certs check` and `kp certs rotate` on a lab of 3 control planes whose leaf certificates were
 * made to expire in 5 days (`kp lab up --cert-days 5`), as an operator meets it: `kp health` is
 * CRITICAL, `kp certs check` agrees with the lab kubeadm's own `certs check-expiration -o json`,
 * and the rotation — killed with -9 while a static pod restarts, then resumed — renews every
 * certificate once per control plane, one control plane at a time, with the API answering at the
 * endpoint every 200 ms and the real `kubectl` working with the refreshed kubeconfig afterwards.
 * Last, a control plane whose API server does not come back stops the run, the others untouched.
 * The world is checked on the VMs (files, calls logs) and over TLS (served certificates). Needs root.
 */
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {request} from 'node:https'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {parse} from 'yaml'

import {parseCertificate, servedCertificate} from '../../../src/lib/certs/index.js'
import {runsDir} from '../../../src/lib/engine/journal.js'
import {teardownLab} from '../../../src/lib/lab/host/index.js'
import {parseEnvelope, runKp, spawnKp, tempDir} from '../../helpers/cli.js'
import {isRoot, sampleEvery, SshClient, until} from '../host/helpers.js'
import {labKubectl} from '../kube/helpers.js'

if (!isRoot) console.warn('test/lab/certs/rotate.test.ts: skipped, the lab needs root')

const CPS = {cp1: '10.77.0.11', cp2: '10.77.0.12', cp3: '10.77.0.13'} as const
type Cp = keyof typeof CPS
const DAY_MS = 86_400_000
const ROLLING = ['check', 'snapshot', 'renew', 'restart', 'verify']
const started = Date.now()

interface Journal {
  runId: string
  status: string
  workflow: string
  steps: Array<{id: string; units: Array<{endedAt?: string; startedAt?: string; status: string; target?: string}>}>
}

describe.skipIf(!isRoot)('kp certs on a lab of 3 control planes whose certificates expire in 5 days', () => {
  const state = tempDir('kp-certs-lab-')
  const lab = path.join(state, 'lab')
  const config = path.join(lab, 'kp.yaml')
  const adminConf = path.join(state, 'clusters', 'lab', 'admin.conf')
  const kp = (args: string[], timeoutMs = 900_000, env: NodeJS.ProcessEnv = {}) => runKp([...args, '--state-dir', state, '--config', config], {env, timeoutMs})
  let ssh: SshClient
  const kubectl = labKubectl(adminConf)
  /** How many times kubeadm renewed certificates on a control plane (the VM's own calls log). */
  const renewals = async (cp: Cp) => (await ssh.ok(CPS[cp], 'sudo cat /var/log/kp-lab/calls.log')).split('\n').filter((l) => l.includes('certs') && l.includes('renew')).length
  const onDisk = async (cp: Cp, file: string) => parseCertificate(await ssh.ok(CPS[cp], `sudo cat ${file}`))
  const journals = (): Journal[] => {
    const dir = runsDir(state)
    return existsSync(dir) ? readdirSync(dir).map((id) => JSON.parse(readFileSync(path.join(dir, id, 'journal.json'), 'utf8')) as Journal) : []
  }

  /** GET /readyz at the control-plane endpoint every 200 ms for the whole run (public, as in kubeadm). */
  const sampleEndpoint = (endpoint: string) =>
    sampleEvery(200, () =>
      new Promise<{ok: boolean}>((resolve) => {
        const req = request(new URL('/readyz', endpoint), {rejectUnauthorized: false, timeout: 2000}, (res) => {
          res.resume()
          res.on('end', () => resolve({ok: res.statusCode === 200}))
        })
        req.on('timeout', () => req.destroy())
        req.on('error', () => resolve({ok: false}))
        req.end()
      }),
    )

  beforeAll(async () => {
    const up = await runKp(['lab', 'up', '--nodes', '3', '--control-planes', '3', '--cert-days', '5', '--state-dir', state], {timeoutMs: 20 * 60_000})
    expect(up.code, up.stderr + up.stdout).toBe(0)
    ssh = new SshClient(lab, path.join(lab, 'ssh', 'id_ed25519'), 'debian')
    const boot = await kp(['bootstrap', '--yes'], 25 * 60_000)
    expect(boot.code, boot.stderr + boot.stdout).toBe(0)
  }, 45 * 60_000)

  afterAll(async () => {
    console.log(`certs-lab: ${((Date.now() - started) / 1000).toFixed(0)} s wall time`)
    await runKp(['lab', 'down', '--state-dir', state], {timeoutMs: 120_000})
    await teardownLab({stateDir: lab}, {purge: true}).catch(() => {})
  }, 300_000)

  it('kp health is CRITICAL naming the certificate; kp certs check lists every certificate and agrees with kubeadm certs check-expiration', async () => {
    const health = await kp(['health'])
    expect(health.code, health.stdout + health.stderr).toBe(2)
    expect(health.stdout).toMatch(/certificate.*expires .* \(in 4 days\)/)

    const check = await kp(['certs', 'check', '--json'])
    expect(check.code, check.stdout + check.stderr).toBe(2)
    const ours = parseEnvelope<{certificates: Array<{name: string; node: string; notAfter: null | string; status: string}>}>(check.stdout).result!.certificates
    for (const cp of Object.keys(CPS) as Cp[]) {
      type Expiration = {expirationDate: string; missing: boolean; name: string}
      const kubeadm = JSON.parse(await ssh.ok(CPS[cp], 'sudo kubeadm certs check-expiration -o json')) as {certificateAuthorities: Expiration[]; certificates: Expiration[]}
      expect(kubeadm.certificates).toHaveLength(11)
      const present = [...kubeadm.certificates, ...kubeadm.certificateAuthorities].filter((c) => !c.missing)
      // super-admin.conf is on the first control plane only; everything else on every one.
      expect(present.length, cp).toBeGreaterThanOrEqual(13)
      for (const theirs of present) {
        const mine = ours.find((c) => c.node === cp && c.name === theirs.name)
        expect(mine, `${cp} ${theirs.name}`).toBeDefined()
        expect(Date.parse(mine!.notAfter!), `${cp} ${theirs.name}`).toBe(Date.parse(theirs.expirationDate))
      }

      expect(ours.filter((c) => c.node === cp && c.notAfter !== null).length, `${cp}: kp reads what kubeadm reads, and the kubelet's`).toBe(present.length + 1)
      expect(ours.find((c) => c.node === cp && c.name === 'apiserver')!.status).toBe('CRITICAL')
    }

    // Every node's kubelet client certificate too.
    expect(ours.filter((c) => c.name === 'kubelet-client').map((c) => c.node).sort()).toEqual(['cp1', 'cp2', 'cp3'])
  }, 120_000)

  it('kp certs rotate: one control plane at a time through kill -9 during a static pod restart; every certificate ~365 days on disk and served; the endpoint answered; kubectl works with the refreshed kubeconfig', async () => {
    const endpoint = `https://${(parse(readFileSync(config, 'utf8')) as {cluster: {controlPlaneEndpoint: string}}).cluster.controlPlaneEndpoint}`
    const sampler = sampleEndpoint(endpoint)
    // Killed once a manifest has been moved out of /etc/kubernetes/manifests (a static pod restarting).
    const rotationStarted = Date.now()
    const run = spawnKp(['certs', 'rotate', '--yes', '--state-dir', state, '--config', config])
    let killedAt = 0
    await until('a static pod restarting', async () => {
      for (const ip of Object.values(CPS)) if ((await ssh.run(ip, 'sudo ls /etc/kubernetes/kp-restart 2>/dev/null')).stdout.trim()) return true
      return false
    }, 600_000)
    run.child.kill('SIGKILL')
    killedAt = Date.now()
    expect((await run.done).code).toBe(137)
    const resume = await kp(['resume', '--yes'], 20 * 60_000)
    const samples = await sampler.stop()
    expect(resume.code, resume.stderr + resume.stdout).toBe(0)
    console.log(`certs-lab: rotation ${((Date.now() - rotationStarted) / 1000).toFixed(0)} s, killed after ${((killedAt - rotationStarted) / 1000).toFixed(1)} s; ${samples.length} endpoint samples, ${samples.filter((s) => !s.ok).length} failed`)
    expect(samples.length).toBeGreaterThan(50)
    expect(samples.filter((s) => !s.ok)).toEqual([])

    // Renewed exactly once per control plane, through the kill.
    for (const cp of Object.keys(CPS) as Cp[]) expect(await renewals(cp), cp).toBe(1)

    // One at a time: each control plane's rolling units end before the next one's begin.
    const rotation = journals().find((j) => j.workflow === 'certs-rotate')!
    const spans = (Object.keys(CPS) as Cp[]).map((cp) => {
      // The rolling steps (the etcd backup before them targets one member too).
      const units = rotation.steps.filter((s) => ROLLING.includes(s.id)).flatMap((s) => s.units).filter((u) => u.target === cp && u.startedAt)
      return {cp, end: Math.max(...units.map((u) => Date.parse(u.endedAt!))), start: Math.min(...units.map((u) => Date.parse(u.startedAt!)))}
    }).sort((a, b) => a.start - b.start)
    for (let i = 1; i < spans.length; i++) expect(spans[i]!.start, `${spans[i]!.cp} after ${spans[i - 1]!.cp}`).toBeGreaterThanOrEqual(spans[i - 1]!.end)

    const now = Date.now()
    for (const [cp, ip] of Object.entries(CPS) as Array<[Cp, string]>) {
      const apiserver = await onDisk(cp, '/etc/kubernetes/pki/apiserver.crt')
      expect(Math.round((apiserver.notAfter.getTime() - now) / DAY_MS), cp).toBe(365)
      expect((await servedCertificate(ip, 6443)).fingerprint256, `${cp} serves the renewed apiserver certificate`).toBe(apiserver.fingerprint256)
      const etcd = await onDisk(cp, '/etc/kubernetes/pki/etcd/server.crt')
      expect((await servedCertificate(ip, 2379)).fingerprint256, `${cp} etcd serves the renewed certificate`).toBe(etcd.fingerprint256)
    }

    const check = await kp(['certs', 'check', '--json'])
    const after = parseEnvelope<{certificates: Array<{daysLeft: null | number; kind: string; name: string; node: string; served?: Record<string, {match?: boolean}>}>}>(check.stdout).result!.certificates
    const renewed = after.filter((x) => x.kind === 'certificate' && x.daysLeft !== null)
    expect(renewed.length).toBeGreaterThanOrEqual(3 * 10)
    for (const c of renewed) expect(c.daysLeft, `${c.node} ${c.name}`).toBeGreaterThanOrEqual(364)

    // The refreshed admin kubeconfig works for the real kubectl, and the old one was kept.
    expect(existsSync(`${adminConf}.bak`)).toBe(true)
    const nodes = await kubectl(['get', 'nodes', '-o', 'name'])
    expect(nodes.code, nodes.stderr).toBe(0)
    expect(nodes.stdout.trim().split('\n').sort()).toEqual(['node/cp1', 'node/cp2', 'node/cp3'])
  }, 30 * 60_000)

  it('a control plane whose API server does not come back: the run stops there, the others untouched; fixed, kp resume finishes', async () => {
    const fault = await runKp(['lab', 'fault', 'cp2', '--apiserver-wont-start', '--state-dir', state])
    expect(fault.code, fault.stderr).toBe(0)
    const before = {cp1: await renewals('cp1'), cp2: await renewals('cp2'), cp3: await renewals('cp3')}
    // A minute for an API server to come back instead of five: the fault keeps it down for good.
    let at = Date.now()
    const rotate = await kp(['certs', 'rotate', '--yes'], 20 * 60_000, {KP_ROTATE_WAIT_MS: '60000'})
    console.log(`certs-lab: the run stopped at cp2 after ${((Date.now() - at) / 1000).toFixed(0)} s`)
    expect(rotate.code, rotate.stdout + rotate.stderr).toBe(1)
    expect(rotate.stderr).toMatch(/cp2/)
    expect(rotate.stderr).toMatch(/runbooks\/certs-rotate\.md#/)
    expect(await renewals('cp1')).toBe(before.cp1 + 1)
    expect(await renewals('cp2')).toBe(before.cp2 + 1)
    expect(await renewals('cp3'), 'cp3 untouched').toBe(before.cp3)
    const clear = await runKp(['lab', 'fault', 'cp2', '--clear', '--state-dir', state])
    expect(clear.code, clear.stderr).toBe(0)
    at = Date.now()
    const resume = await kp(['resume', '--yes'], 20 * 60_000)
    console.log(`certs-lab: kp resume finished cp2 and cp3 in ${((Date.now() - at) / 1000).toFixed(0)} s`)
    expect(resume.code, resume.stderr + resume.stdout).toBe(0)
    expect(await renewals('cp2'), 'cp2 not renewed again').toBe(before.cp2 + 1)
    expect(await renewals('cp3')).toBe(before.cp3 + 1)
    const health = await kp(['health'])
    expect(health.code, health.stdout).toBe(0)
  }, 30 * 60_000)
})
