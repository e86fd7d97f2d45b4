/**
 * The light kubeconfig reader (what `kp health` uses so as not to load client-node): paths relative
 * to the kubeconfig's folder, the -data fields, tokens, and the cases it leaves to client-node.
 */
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {stringify} from 'yaml'

import {connectKube} from '../../src/lib/kube/client.js'
import {readPlainKubeconfig} from '../../src/lib/kube/kubeconfig.js'
import {writeHealthConfig} from '../health/helpers.js'
import {repoRoot, runKp, tempDir} from '../helpers/cli.js'
import {startTestKube, type TestKube} from '../lab/kube/helpers.js'

const CA = '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n'
const CERT = '-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n'
const KEY = '-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n'
const b64 = (value: string) => Buffer.from(value).toString('base64')
const text = (value: unknown) => (Buffer.isBuffer(value) ? value.toString('utf8') : value)

function kubeconfig(dir: string, cluster: Record<string, unknown>, user: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  const file = path.join(dir, 'conf', 'admin.conf')
  mkdirSync(path.dirname(file), {recursive: true})
  const doc = {
    apiVersion: 'v1',
    clusters: [{cluster: {server: 'https://10.0.0.1:6443', ...cluster}, name: 'lab'}],
    contexts: [{context: {cluster: 'lab', user: 'admin'}, name: 'admin@lab'}, {context: {cluster: 'lab', user: 'other'}, name: 'other@lab'}],
    'current-context': 'admin@lab',
    kind: 'Config',
    users: [{name: 'admin', user}, {name: 'other', user: {token: 'other-token'}}],
    ...extra,
  }
  writeFileSync(file, stringify(doc))
  return file
}

describe('the light kubeconfig reader', () => {
  it('reads certificate files relative to the kubeconfig\'s folder, not the working directory', () => {
    const dir = tempDir('kp-kubeconfig-')
    mkdirSync(path.join(dir, 'conf', 'pki'), {recursive: true})
    writeFileSync(path.join(dir, 'conf', 'pki', 'ca.crt'), CA)
    writeFileSync(path.join(dir, 'conf', 'pki', 'admin.crt'), CERT)
    writeFileSync(path.join(dir, 'conf', 'pki', 'admin.key'), KEY)
    const file = kubeconfig(dir, {'certificate-authority': 'pki/ca.crt'}, {'client-certificate': 'pki/admin.crt', 'client-key': 'pki/admin.key'})
    const plain = readPlainKubeconfig(file)
    expect(plain?.server).toBe('https://10.0.0.1:6443')
    expect(plain?.context).toBe('admin@lab')
    expect(text(plain?.tls.ca)).toBe(CA)
    expect(text(plain?.tls.cert)).toBe(CERT)
    expect(text(plain?.tls.key)).toBe(KEY)
    expect(plain?.headers).toEqual({})
    expect(plain?.tls.rejectUnauthorized).toBeUndefined()
  })

  it('reads the -data fields, a token, insecure-skip-tls-verify and tls-server-name', () => {
    const dir = tempDir('kp-kubeconfig-')
    const file = kubeconfig(
      dir,
      {'certificate-authority-data': b64(CA), 'insecure-skip-tls-verify': true, server: 'https://10.0.0.1:6443/', 'tls-server-name': 'kubernetes'},
      {'client-certificate-data': b64(CERT), 'client-key-data': b64(KEY), token: 'abc.def'},
    )
    const plain = readPlainKubeconfig(file)!
    expect(plain.server).toBe('https://10.0.0.1:6443')
    expect(text(plain.tls.ca)).toBe(CA)
    expect(text(plain.tls.cert)).toBe(CERT)
    expect(text(plain.tls.key)).toBe(KEY)
    expect(plain.tls.rejectUnauthorized).toBe(false)
    expect(plain.tls.servername).toBe('kubernetes')
    expect(plain.headers).toEqual({Authorization: 'Bearer abc.def'})
  })

  it('reads a tokenFile relative to the kubeconfig, and another context when asked', () => {
    const dir = tempDir('kp-kubeconfig-')
    writeFileSync(path.join(dir, 'token'), 'from-file\n')
    mkdirSync(path.join(dir, 'conf'), {recursive: true})
    const file = kubeconfig(dir, {}, {tokenFile: '../token'})
    expect(readPlainKubeconfig(file)?.headers).toEqual({Authorization: 'Bearer from-file'})
    const other = readPlainKubeconfig(file, 'other@lab')
    expect(other?.context).toBe('other@lab')
    expect(other?.headers).toEqual({Authorization: 'Bearer other-token'})
  })

  it('leaves exec plugins, auth providers, proxies, basic auth and anything it cannot read to client-node', () => {
    const dir = tempDir('kp-kubeconfig-')
    const cases: Array<[Record<string, unknown>, Record<string, unknown>, Record<string, unknown>?]> = [
      [{}, {exec: {apiVersion: 'client.authentication.k8s.io/v1', command: 'aws'}}],
      [{}, {'auth-provider': {name: 'oidc'}}],
      [{'proxy-url': 'http://proxy:3128'}, {token: 't'}],
      [{}, {password: 'p', username: 'u'}],
      [{server: 'http://10.0.0.1:8080'}, {token: 't'}],
      [{}, {token: 't'}, {'current-context': 'missing'}],
      [{'certificate-authority': 'pki/absent.crt'}, {token: 't'}],
    ]
    for (const [cluster, user, extra] of cases) expect(readPlainKubeconfig(kubeconfig(dir, cluster, user, extra)), JSON.stringify({cluster, extra, user})).toBeUndefined()
    writeFileSync(path.join(dir, 'broken.conf'), 'clusters: [\n')
    expect(readPlainKubeconfig(path.join(dir, 'broken.conf'))).toBeUndefined()
  })
})

describe('plain reads against the lab\'s API server', () => {
  let t: TestKube
  beforeAll(async () => {
    t = await startTestKube()
    t.kube.seedDemo({nodes: ['cp1', 'w1', 'w2']})
  })
  afterAll(async () => {
    await t.kube.close()
  })

  it('lists and reads as JSON, and still writes (through client-node)', async () => {
    const kube = await connectKube({kubeconfig: t.kubeconfig, plainReads: true, retry: {baseMs: 10, maxMs: 20, tries: 3}})
    try {
      expect((await kube.listNodes()).map((n) => n.metadata?.name).sort()).toEqual(['cp1', 'w1', 'w2'])
      expect(await kube.getNode('absent')).toBeUndefined()
      expect((await kube.listPods({namespace: 'kube-system'})).length).toBeGreaterThan(0)
      await kube.setUnschedulable('w1', true)
      expect((await kube.getNode('w1'))?.spec?.unschedulable).toBe(true)
    } finally {
      await kube.close()
    }
  })

  it('kp health never loads @kubernetes/client-node for such a kubeconfig', async () => {
    const dir = tempDir('kp-kubeconfig-')
    const config = writeHealthConfig(dir, t.kubeconfig)
    const log = path.join(dir, 'modules.log')
    const probe = path.join(repoRoot, 'test', 'fixtures', 'probe', 'record-modules.mjs')
    const result = await runKp(['health', '-c', config, '--state-dir', path.join(dir, 'state'), '--check', 'nodes', '--output', 'json'], {
      env: {KP_MODULE_LOG: log, NODE_OPTIONS: `--import ${probe}`},
    })
    expect((JSON.parse(result.stdout) as {checks: Array<{name: string}>}).checks.map((c) => c.name)).toEqual(['nodes'])
    const loaded = readFileSync(log, 'utf8')
    expect(loaded).toContain('/node_modules/yaml/')
    expect(loaded).not.toContain('/node_modules/@kubernetes/client-node/')
  })
})
