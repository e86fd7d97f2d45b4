/**
 * The steps of kp certs rotate that guard a resume, with a fake control plane behind a fake SSH
 * session (its files, static pods and kubeadm in memory) and, on a loopback address of its own, real
 * TLS servers standing in for its API server (:6443, /readyz) and etcd member (:2379): renewal is
 * never run twice, a manifest left in kp's folder is moved back, a served certificate the restart
 * left unchanged fails saying so, and an API server that does not come back stops at this node.
 */
import {execFileSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {createServer as createHttps, type Server as HttpsServer} from 'node:https'
import {createServer as createTls, type Server as TlsServer} from 'node:tls'

import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import {KUBEADM_CERTIFICATES, parseCertificate} from '../../src/lib/certs/index.js'
import type {UnitContext} from '../../src/lib/engine/types.js'
import type {KpError} from '../../src/lib/errors.js'
import type {SshSession} from '../../src/lib/ssh/types.js'
import type {Before} from '../../src/lib/workflows/certs-rotate/check.js'
import {COMPONENTS, MANIFESTS, PARKED, type RotateFacts, type RotateParams} from '../../src/lib/workflows/certs-rotate/facts.js'
import {stateOf} from '../../src/lib/workflows/certs-rotate/node.js'
import {renewCertificates} from '../../src/lib/workflows/certs-rotate/renew.js'
import {restartStaticPods} from '../../src/lib/workflows/certs-rotate/restart.js'
import {verifyControlPlane} from '../../src/lib/workflows/certs-rotate/verify.js'
import {tempDir} from '../helpers/cli.js'

interface Pem {
  cert: string
  key: string
}

function selfSigned(dir: string, name: string, days: number): Pem {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${dir}/${name}.key`, '-out', `${dir}/${name}.crt`, '-subj', '/CN=kube-apiserver', '-days', String(days)], {stdio: 'ignore'})
  return {cert: readFileSync(`${dir}/${name}.crt`, 'utf8'), key: readFileSync(`${dir}/${name}.key`, 'utf8')}
}

let OLD: Pem
let NEW: Pem
beforeAll(() => {
  const dir = tempDir('kp-rotate-steps-')
  OLD = selfSigned(dir, 'old', 5)
  NEW = selfSigned(dir, 'new', 365)
  process.env.KP_ROTATE_WAIT_MS = '1500'
})
afterAll(() => {
  delete process.env.KP_ROTATE_WAIT_MS
})

/** A control plane: its certificate files, its static pods, and what kp ran there. */
class Plane {
  commands: string[] = []
  disk = new Map<string, string>(KUBEADM_CERTIFICATES.map((c) => [c.name, OLD.cert]))
  /** Where each manifest is, and since when (s) its pod runs; undefined: not running. */
  pods = new Map<string, {at: 'manifests' | 'parked'; since?: number}>(COMPONENTS.map((c) => [c, {at: 'manifests', since: 100}]))
  now = 1000
  /** The kubelet starts a pod whose manifest came back (false: the API server never comes back). */
  starts = (_component: string): boolean => true

  session(): SshSession {
    return {
      bootId: async () => 'boot',
      exec: async (command) => this.exec(command as string[]),
      rebootAndWait: async () => ({bootId: 'boot', seconds: 0}),
      target: {host: '127.0.0.1', name: 'cp1', port: 22, user: 'debian'},
      upload: async () => {},
    }
  }

  private exec(argv: string[]): {code: number; stderr: string; stdout: string} {
    const ok = (stdout = '') => ({code: 0, stderr: '', stdout})
    const line = argv.join(' ')
    this.commands.push(line)
    if (argv[3] === 'kp-certs') {
      const byPath = new Map(KUBEADM_CERTIFICATES.map((c) => [c.path, c.name]))
      return ok(argv.slice(4).map((p) => `=== kp-cert ${p}\n${this.disk.get(byPath.get(p)!)!}`).join(''))
    }

    if (argv[0] === 'kubeadm') {
      const name = argv[3]!
      for (const c of KUBEADM_CERTIFICATES) if (name === 'all' || name === c.name) this.disk.set(c.name, NEW.cert)
      return ok()
    }

    if (argv[0] === 'date') return ok(`${this.now}\n`)
    if (argv[3] === 'kp-move') {
      const component = argv[4]!.split('/').pop()!.replace('.yaml', '')
      const pod = this.pods.get(component)!
      if (argv[5] === PARKED) Object.assign(pod, {at: 'parked', since: undefined})
      else Object.assign(pod, {at: 'manifests', since: this.starts(component) ? (this.now += 1) : undefined})
      return ok()
    }

    if (argv[3] === 'kp-pod') {
      const pod = this.pods.get(argv[4]!)!
      const containers = pod.since === undefined ? [] : [{createdAt: String(BigInt(pod.since) * 1_000_000_000n)}]
      return ok(`${pod.at === 'manifests' ? 'manifest\n' : 'parked\n'}${JSON.stringify({containers})}`)
    }

    if (line.includes('kp-etcdctl')) return ok(JSON.stringify([{endpoint: 'https://127.0.0.1:2379', health: true}]))
    throw new Error(`the fake control plane does not know: ${line}`)
  }
}

/** The API server and etcd member of the plane on a loopback address of their own, serving `pem`. */
class Served {
  address = `127.${10 + Math.floor(Math.random() * 200)}.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`
  private api?: HttpsServer
  private etcd?: TlsServer

  async start(pem: Pem, api = true): Promise<void> {
    await this.stop()
    this.etcd = createTls({cert: pem.cert, key: pem.key}, (s) => s.end())
    await new Promise<void>((resolve) => this.etcd!.listen(2379, this.address, resolve))
    if (!api) return
    this.api = createHttps({cert: pem.cert, key: pem.key}, (_req, res) => res.end('ok'))
    await new Promise<void>((resolve) => this.api!.listen(6443, this.address, resolve))
  }

  async stop(): Promise<void> {
    for (const s of [this.api, this.etcd]) if (s) await new Promise((resolve) => s.close(resolve))
    this.api = undefined
    this.etcd = undefined
  }
}

const before = (): Before => ({
  disk: Object.fromEntries(KUBEADM_CERTIFICATES.map((c) => [c.name, stateOf(parseCertificate(OLD.cert))])),
  served: {apiserver: parseCertificate(OLD.cert).fingerprint256, etcd: parseCertificate(OLD.cert).fingerprint256},
})

function unit(plane: Plane, address: string, preStates: Record<string, Record<string, unknown>> = {}) {
  const logs: string[] = []
  let own: Record<string, unknown> | undefined
  const ctx = {
    dryRun: false,
    facts: {addresses: {cp1: address}, order: ['cp1']},
    log: (l: string) => logs.push(l),
    logs,
    memo: <T>(_key: string, make: () => T) => make(),
    mutate: async <T>(_d: string, fn: () => Promise<T> | T) => fn(),
    params: {},
    get preState() {
      return own
    },
    preStateOf: (step: string) => preStates[step],
    recordPreState(s: Record<string, unknown>) {
      own ??= s
    },
    runId: '20261206-111324-ab12',
    signal: new AbortController().signal,
    ssh: async () => plane.session(),
    target: 'cp1',
  }
  return ctx as unknown as UnitContext<RotateFacts, RotateParams> & {logs: string[]}
}

const failure = async (p: Promise<void> | void): Promise<KpError | undefined> => Promise.resolve(p).then(() => undefined, (e: unknown) => e as KpError)

let served: Served | undefined
afterEach(async () => {
  await served?.stop()
  served = undefined
})

describe('certs-rotate: Renew the certificates', () => {
  it('a first attempt runs kubeadm certs renew all, once', async () => {
    const plane = new Plane()
    const ctx = unit(plane, '127.0.0.1', {check: before()})
    expect(await renewCertificates.check!(ctx)).toBe(false)
    await renewCertificates.run(ctx)
    expect(plane.commands.filter((c) => c.startsWith('kubeadm'))).toEqual(['kubeadm certs renew all'])
    expect(ctx.preState).toEqual({renewedFrom: 1000})
  })

  it('a resume after kubeadm finished (every serial changed since the check) does not renew again', async () => {
    const plane = new Plane()
    for (const c of KUBEADM_CERTIFICATES) plane.disk.set(c.name, NEW.cert)
    const skip = await renewCertificates.check!(unit(plane, '127.0.0.1', {check: before()}))
    expect(skip).toBe(`already renewed: the serial of each of the ${KUBEADM_CERTIFICATES.length} certificates differs from before`)
    expect(plane.commands.some((c) => c.startsWith('kubeadm'))).toBe(false)
  })

  it('a resume after kubeadm was cut off half-way renews only the certificates still old, by name', async () => {
    const plane = new Plane()
    plane.disk.set('admin.conf', NEW.cert)
    plane.disk.set('apiserver', NEW.cert)
    const ctx = unit(plane, '127.0.0.1', {check: before()})
    expect(await renewCertificates.check!(ctx)).toBe(false)
    await renewCertificates.run(ctx)
    const renewed = plane.commands.filter((c) => c.startsWith('kubeadm')).map((c) => c.split(' ')[3])
    expect(renewed).toEqual(KUBEADM_CERTIFICATES.map((c) => c.name).filter((n) => n !== 'admin.conf' && n !== 'apiserver'))
  })
})

describe('certs-rotate: Restart the static pods', () => {
  it('one at a time, etcd first: each manifest out, the pod stopped, the manifest back, the pod answering', async () => {
    served = new Served()
    await served.start(NEW)
    const plane = new Plane()
    await restartStaticPods.run(unit(plane, served.address, {check: before(), renew: {renewedFrom: 500}}))
    const moves = plane.commands.filter((c) => c.includes('kp-move')).map((c) => `${c.split(' ').at(-2)!.split('/').pop()!} → ${c.split(' ').at(-1)!}`)
    expect(moves).toEqual(COMPONENTS.flatMap((c) => [`${c}.yaml → ${PARKED}`, `${c}.yaml → ${MANIFESTS}`]))
    expect([...plane.pods.values()].every((p) => p.at === 'manifests' && p.since! > 500)).toBe(true)
  })

  it('a resume finds a manifest in kp\'s folder: it is moved back, and pods restarted after the renewal are not restarted again', async () => {
    served = new Served()
    await served.start(NEW)
    const plane = new Plane()
    // Killed after etcd was restarted and the API server's manifest moved out.
    plane.pods.set('etcd', {at: 'manifests', since: 600})
    plane.pods.set('kube-apiserver', {at: 'parked'})
    const ctx = unit(plane, served.address, {check: before(), renew: {renewedFrom: 500}})
    await restartStaticPods.run(ctx)

    const moves = plane.commands.filter((c) => c.includes('kp-move')).map((c) => `${c.split(' ').at(-2)!.split('/').pop()!} → ${c.split(' ').at(-1)!}`)
    expect(moves).toEqual([
      `kube-apiserver.yaml → ${MANIFESTS}`,
      `kube-controller-manager.yaml → ${PARKED}`,
      `kube-controller-manager.yaml → ${MANIFESTS}`,
      `kube-scheduler.yaml → ${PARKED}`,
      `kube-scheduler.yaml → ${MANIFESTS}`,
    ])
    expect(plane.pods.get('kube-apiserver')?.at).toBe('manifests')
    expect(ctx.logs).toContain('etcd was restarted after the renewal already: not restarting it again')
  })

  it('an API server that does not come back stops at this control plane, its manifest back, naming the node and the runbook section', async () => {
    served = new Served()
    // etcd answers; nothing listens on :6443.
    await served.start(NEW, false)
    const plane = new Plane()
    plane.starts = (component) => component !== 'kube-apiserver'
    const error = await failure(restartStaticPods.run(unit(plane, served.address, {check: before(), renew: {renewedFrom: 500}})))

    expect(error?.exitCode).toBe(1)
    expect(error?.message).toMatch(/^cp1: kube-apiserver did not come back after its restart: .*kube-apiserver is not running yet.*the control planes after cp1 were not touched\.$/)
    expect(error?.hint).toContain('runbook section "Restart the static pods"')
    expect(plane.pods.get('kube-apiserver')?.at).toBe('manifests')
    // Stopped there: the controller manager and the scheduler were not touched.
    expect(plane.commands.some((c) => c.includes('kp-move') && /kube-(controller-manager|scheduler)/.test(c))).toBe(false)
  })
})

describe('certs-rotate: Verify the control plane', () => {
  it('renewed on disk and served: passes', async () => {
    served = new Served()
    await served.start(NEW)
    const plane = new Plane()
    for (const c of KUBEADM_CERTIFICATES) plane.disk.set(c.name, NEW.cert)
    await verifyControlPlane.run(unit(plane, served.address, {check: before()}))
  })

  it('a served certificate the restart left unchanged fails, saying so', async () => {
    served = new Served()
    await served.start(OLD)
    const plane = new Plane()
    for (const c of KUBEADM_CERTIFICATES) plane.disk.set(c.name, NEW.cert)
    const error = await failure(verifyControlPlane.run(unit(plane, served.address, {check: before()})))

    expect(error?.exitCode).toBe(1)
    expect(error?.message).toContain(`the renewal left the served certificate unchanged: the API server at ${served.address}:6443 still serves the one it served before`)
    expect(error?.message).toContain(`the etcd member at ${served.address}:2379 still serves the one it served before`)
    expect(error?.hint).toContain('"Verify the control plane"')
  })
})
