import {mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {UsageError} from '../../src/lib/errors.js'
import {loadCniManifest, parseManifest} from '../../src/lib/preflight/index.js'
import {tempDir} from '../helpers/cli.js'
import {preflightConfig} from './config.js'

const FLANNEL_LIKE = `---
# leading empty document, as many published manifests have
---
kind: Namespace
apiVersion: v1
metadata:
  name: kube-flannel
  labels: {pod-security.kubernetes.io/enforce: privileged}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: kube-flannel-cfg, namespace: kube-flannel}
data:
  net-conf.json: '{"Network": "10.244.0.0/16"}'
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: kube-flannel-ds, namespace: kube-flannel}
spec:
  template:
    spec:
      volumes:
      - name: cfg
        configMap: {name: kube-flannel-cfg, defaultMode: 0644}
---
`

function inDir(content: string, name = 'cni.yaml'): {dir: string; file: string} {
  const dir = tempDir('kp-cni-')
  const file = path.join(dir, name)
  mkdirSync(path.dirname(file), {recursive: true})
  writeFileSync(file, content)
  return {dir, file}
}

describe('loadCniManifest from a file', () => {
  it('reads every object relative to kp.yaml\'s folder, skipping empty documents, YAML 1.1 like kubectl', async () => {
    const {dir} = inDir(FLANNEL_LIKE, 'cni/flannel.yml')
    const objects = await loadCniManifest(preflightConfig({manifest: 'cni/flannel.yml'}), dir)
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(['Namespace/kube-flannel', 'ConfigMap/kube-flannel-cfg', 'DaemonSet/kube-flannel-ds'])
    const volumes = (objects[2] as unknown as {spec: {template: {spec: {volumes: Array<{configMap: {defaultMode: number}}>}}}}).spec.template.spec.volumes
    expect(volumes[0]!.configMap.defaultMode).toBe(0o644)
  })

  it('a missing file: names the path and what to do', async () => {
    const dir = tempDir('kp-cni-')
    const attempt = loadCniManifest(preflightConfig({manifest: './cni.yaml'}), dir)
    await expect(attempt).rejects.toThrow(UsageError)
    await expect(attempt).rejects.toThrow(`cluster.cni.manifest: ${path.join(dir, 'cni.yaml')} does not exist`)
    await expect(attempt).rejects.toMatchObject({exitCode: 2, hint: expect.stringContaining('set cluster.cni.manifest to its https:// URL') as string})
  })

  it('a folder is not a manifest', async () => {
    const {dir} = inDir('x: 1\n', 'sub/x.yaml')
    await expect(loadCniManifest(preflightConfig({manifest: 'sub'}), dir)).rejects.toThrow(`${path.join(dir, 'sub')} is a folder, not a manifest`)
  })
})

describe('parseManifest', () => {
  const parse = (text: string) => () => parseManifest(text, '/m.yaml')

  it('bad YAML at document N names the document and its line', () => {
    const text = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b\n'
    expect(parse(text)).toThrow(UsageError)
    expect(parse(text)).toThrow(/^cluster.cni.manifest \/m.yaml: document 2 \(line \d+\): YAML syntax error: /)
  })

  it.each([
    ['no apiVersion', 'kind: Namespace\nmetadata: {name: a}\n', 'document 1 (line 1): no apiVersion'],
    ['no kind', 'apiVersion: v1\nmetadata: {name: a}\n', 'document 1 (line 1): no kind'],
    ['no name', '---\n# empty\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {generateName: x-}\n', 'document 3 (line 8): ServiceAccount without metadata.name'],
    ['a scalar', 'just text\n', 'document 1 (line 1): not a Kubernetes object'],
    ['a list of objects', '- apiVersion: v1\n', 'not a Kubernetes object'],
    ['duplicate keys', 'apiVersion: v1\nkind: Namespace\nkind: Namespace\nmetadata: {name: a}\n', 'YAML syntax error'],
    ['nothing at all', '---\n# only a comment\n---\n', 'the whole file: it holds no Kubernetes objects'],
  ])('refuses %s', (_name, text, message) => {
    expect(parse(text)).toThrow(message)
  })

  it('expands List kinds, typed lists filling in their items\' apiVersion and kind', () => {
    const text = `apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ServiceAccount, metadata: {name: sa, namespace: kube-system}}
- {apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, metadata: {name: cr}}
---
apiVersion: v1
kind: ConfigMapList
items:
- metadata: {name: cm1, namespace: kube-system}
  data: {a: b}
`
    expect(parseManifest(text, 'x').map((o) => `${o.apiVersion} ${o.kind}/${o.metadata.name}`)).toEqual(['v1 ServiceAccount/sa', 'rbac.authorization.k8s.io/v1 ClusterRole/cr', 'v1 ConfigMap/cm1'])
  })

  it('a List item without a name names the document and the item', () => {
    expect(parse('apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: a}}\n- {apiVersion: v1, kind: Secret, metadata: {}}\n')).toThrow(
      'document 1 (line 1), items[1]: Secret without metadata.name',
    )
  })
})

describe('loadCniManifest from a URL', () => {
  const URL_ = 'https://example.invalid/releases/latest/download/kube-flannel.yml'
  const fakeFetch = (answer: () => Response | Promise<Response>, seen: string[] = []) =>
    (async (input: string) => {
      seen.push(input)
      return answer()
    }) as typeof fetch

  it('downloads and parses it', async () => {
    const seen: string[] = []
    const objects = await loadCniManifest(preflightConfig({manifest: URL_}), '/nowhere', {fetch: fakeFetch(() => new Response(FLANNEL_LIKE), seen)})
    expect(seen).toEqual([URL_])
    expect(objects).toHaveLength(3)
  })

  it('an HTTP error names the URL and the status', async () => {
    await expect(loadCniManifest(preflightConfig({manifest: URL_}), '/', {fetch: fakeFetch(() => new Response('nope', {status: 404, statusText: 'Not Found'}))})).rejects.toThrow(
      `cluster.cni.manifest: ${URL_}: the server answered HTTP 404 Not Found`,
    )
  })

  it('a network error says why, in words', async () => {
    const failing = (async () => {
      throw new TypeError('fetch failed', {cause: Object.assign(new Error('getaddrinfo ENOTFOUND example.invalid'), {code: 'ENOTFOUND'})})
    }) as typeof fetch
    await expect(loadCniManifest(preflightConfig({manifest: URL_}), '/', {fetch: failing})).rejects.toThrow(`${URL_}: cannot download it: getaddrinfo ENOTFOUND example.invalid`)
  })

  it('a redirect to plain http is refused', async () => {
    const redirected = () => Object.defineProperty(new Response(FLANNEL_LIKE), 'url', {value: 'http://mirror.example/kube-flannel.yml'})
    await expect(loadCniManifest(preflightConfig({manifest: URL_}), '/', {fetch: fakeFetch(redirected)})).rejects.toThrow('redirects to http://mirror.example/kube-flannel.yml, which is not https')
  })

  it('a server that never answers fails at the deadline', async () => {
    const hanging = ((_url: string, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason as Error)))) as typeof fetch
    await expect(loadCniManifest(preflightConfig({manifest: URL_}), '/', {fetch: hanging, timeoutMs: 200})).rejects.toThrow('no complete answer within 0.2 s')
  })

  it('the caller\'s abort is passed through, not reported as a bad URL', async () => {
    const controller = new AbortController()
    const hanging = ((_url: string, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason as Error)))) as typeof fetch
    const attempt = loadCniManifest(preflightConfig({manifest: URL_}), '/', {fetch: hanging, signal: controller.signal})
    controller.abort(new Error('interrupted by the user'))
    await expect(attempt).rejects.toThrow('interrupted by the user')
    await expect(attempt).rejects.not.toBeInstanceOf(UsageError)
  })
})
