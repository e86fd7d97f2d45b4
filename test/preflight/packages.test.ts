import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {gzipSync} from 'node:zlib'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {checkPackageVersions, packageVersions, upstreamOf} from '../../src/lib/preflight/index.js'
import {preflightConfig} from './config.js'

function stanza(name: string, version: string): string {
  return `Package: ${name}\nVersion: ${version}\nArchitecture: amd64\nFilename: amd64/${name}_${version}_amd64.deb\nDescription: ${name}\n more description\n`
}

/** A v1.31 index like pkgs.k8s.io's: three patches, and a kubelet 1.31.10 whose kubeadm is not out yet. */
const INDEX_131 = [
  ...['1.31.8', '1.31.9', '1.31.10'].flatMap((v) => ['kubeadm', 'kubelet', 'kubectl'].map((p) => stanza(p, `${v}-1.1`))).filter((s) => !s.startsWith('Package: kubeadm\nVersion: 1.31.10')),
  stanza('cri-tools', '1.31.1-1.1'),
].join('\n')

/** path → [status, body]; everything else 404. */
const routes: Record<string, [number, Buffer | string]> = {
  '/core:/stable:/v1.31/deb/Packages': [200, INDEX_131],
  // A mirror that only has the compressed index.
  '/gz/v1.32/deb/Packages.gz': [200, gzipSync(['kubeadm', 'kubelet', 'kubectl'].map((p) => stanza(p, '1.32.5-1.1')).join('\n'))],
  '/broken/v1.31/deb/Packages': [500, 'oops'],
}

let server: Server
let base: string
const requests: string[] = []

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '')
    const route = routes[decodeURIComponent(req.url ?? '')]
    res.writeHead(route?.[0] ?? 404).end(route?.[1] ?? 'not found')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

const config = (version: string, repoBase = `${base}/core:/stable:`) => preflightConfig({repoBase, version})

describe('checkPackageVersions against a local repository', () => {
  it('all three packages at the version: no problem', async () => {
    expect(await checkPackageVersions(config('1.31.9'))).toBeUndefined()
    expect(requests).toContain('/core:/stable:/v1.31/deb/Packages')
  })

  it('a version the repository lacks: names what it has', async () => {
    expect(await checkPackageVersions(config('1.31.4'))).toBe(
      `cluster.kubernetesVersion 1.31.4: the Kubernetes apt repository ${base}/core:/stable:/v1.31/deb/ has no kubeadm, kubelet, kubectl 1.31.4-* (it has 1.31.8, 1.31.9); set cluster.kubernetesVersion to a version it carries (1.31.9 is the newest)`,
    )
  })

  it('one package missing at the version is enough, and is named', async () => {
    expect(await checkPackageVersions(config('1.31.10'))).toMatch(/has no kubeadm 1.31.10-\* \(it has 1.31.8, 1.31.9\)/)
  })

  it('falls back to Packages.gz', async () => {
    expect(await checkPackageVersions(config('1.32.5', `${base}/gz`))).toBeUndefined()
    expect(await checkPackageVersions(config('1.32.4', `${base}/gz`))).toContain('(it has 1.32.5)')
  })

  it('a minor the repository does not have', async () => {
    expect(await checkPackageVersions(config('1.33.1'))).toBe(
      `cluster.kubernetesVersion 1.33.1: the Kubernetes apt repository ${base}/core:/stable:/v1.33/deb/ does not exist (HTTP 404 for its Packages index); pkgs.k8s.io has every minor from 1.24 on, a mirror may not: check packages.kubernetesRepoBase`,
    )
  })

  it('a server error or no server at all: says it cannot read the index', async () => {
    expect(await checkPackageVersions(config('1.31.9', `${base}/broken`))).toBe(
      `cannot read the package index of the Kubernetes apt repository ${base}/broken/v1.31/deb/: HTTP 500 for ${base}/broken/v1.31/deb/Packages; check packages.kubernetesRepoBase and that this machine reaches it`,
    )
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as AddressInfo).port
        s.close(() => resolve(port))
      })
    })
    expect(await checkPackageVersions(config('1.31.9', `http://127.0.0.1:${closed}/x`))).toMatch(/^cannot read the package index .*: connect ECONNREFUSED 127.0.0.1:\d+; check packages.kubernetesRepoBase/)
  })

  it('an injected fetch is used instead of the network', async () => {
    const seen: string[] = []
    const fake = (async (url: string) => {
      seen.push(url)
      return new Response(INDEX_131)
    }) as typeof fetch
    expect(await checkPackageVersions(preflightConfig({version: '1.31.8'}), {fetch: fake})).toBeUndefined()
    expect(seen).toEqual(['https://pkgs.k8s.io/core:/stable:/v1.31/deb/Packages'])
  })
})

describe('the Packages index', () => {
  it('reads every version of every package, continuation lines and CRLF included', () => {
    const index = packageVersions(`${stanza('kubeadm', '1.31.8-1.1')}\r\n${stanza('kubeadm', '1:1.31.9-1.1')}\n\n\n${stanza('kubectl', '1.31.9-1.1')}`)
    expect(Object.fromEntries(index)).toEqual({kubeadm: ['1.31.8-1.1', '1:1.31.9-1.1'], kubectl: ['1.31.9-1.1']})
  })

  it.each([
    ['1.31.9-1.1', '1.31.9'],
    ['1:1.31.9-1.1', '1.31.9'],
    ['1.31.9', '1.31.9'],
  ])('%s is upstream %s', (debian, upstream) => {
    expect(upstreamOf(debian)).toBe(upstream)
  })
})
