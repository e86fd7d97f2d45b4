/**
 * The lab host: what makes the lab's VMs real on a Linux machine (as root). `createLabHost` returns
 * the VmBackend the Proxmox fake drives, plus the pieces around it — the node image, the apt proxy,
 * the Kubernetes package repositories and their server, host-side faults — and `teardown`.
 * See docs/lab-internals.md.
 */
import type {VmBackend} from '../backend.js'
import {type AptProxy, runningAptProxy, startAptProxy, stopAptProxy} from './apt-proxy.js'
import {ensureImage, type ImageInfo, pruneCache} from './image.js'
import {acquireLabLock} from './lock.js'
import {type LabHostOptions, type ResolvedLabOptions, resolveOptions} from './options.js'
import {ensurePackages, LAB_RELEASES, type PackageRepos, repoPath} from './packages.js'
import {preflight, VM_TOOLS} from './preflight.js'
import {type RepoServer, serveRepo} from './repo-server.js'
import {HostRuntime, type VmFaults} from './runtime.js'
import {ensureUpdatesRepo, publishUpdates, type PublishedPackage, type PublishRequest, UPDATES_URL_PATH, updatesServedRoot, updatesSourceLine} from './updates.js'
import {ensureBridge} from './system.js'
import {teardownLab as teardownResolved, type TeardownOptions, type TeardownReport} from './teardown.js'

export type {LabHostOptions, ResolvedLabOptions} from './options.js'
export type {VmFaults} from './runtime.js'
export type {TeardownReport} from './teardown.js'
export {HostRuntime} from './runtime.js'
export {installLine, preflight} from './preflight.js'

export interface LabRepos extends PackageRepos {
  /** The server's base URL, e.g. http://10.77.0.1:8080 — kp.yaml's packages base for the lab. */
  baseUrl: string
  /** The sources.list line for a minor, in upstream's form. */
  sourcesLine: (minor: string, keyring?: string) => string
  /** URL of a minor's repository, e.g. http://10.77.0.1:8080/core:/stable:/v1.31/deb/ */
  url: (minor: string) => string
  /** The updates repository's sources.list line, as every VM has it. */
  updatesSourceLine: string
}

export interface LabHost {
  /** The VmBackend for the Proxmox fake, with lab extras (guestExec, initPid, booted…). */
  backend: HostRuntime & VmBackend
  /** Cuts every open SSH connection to a VM now. Returns how many sessions were cut. */
  dropSshSessions: (vmid: number) => Promise<number>
  ensureImage: () => Promise<ImageInfo>
  ensurePackages: () => Promise<PackageRepos>
  options: ResolvedLabOptions
  /** Publishes newer versions of image packages into the lab's updates repository (see updates.ts). */
  publishUpdates: (request: Omit<PublishRequest, 'imageDir'>) => Promise<PublishedPackage[]>
  /** Host-side faults: a silent guest agent, a slow reboot, dropped SSH sessions. */
  setFault: (vmid: number, faults: VmFaults) => Promise<void>
  startAptProxy: () => Promise<AptProxy>
  /** Builds the repositories if needed and serves them on the bridge address (in this process). */
  startRepoServer: () => Promise<LabRepos>
  /** Stops the repo server, every VM, the proxy; removes namespaces, links, mounts. */
  teardown: (options?: TeardownOptions) => Promise<TeardownReport>
}

export function createLabHost(input: LabHostOptions): LabHost {
  const options = resolveOptions(input)
  const once = new Map<string, Promise<unknown>>()
  const memo = <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    let p = once.get(key) as Promise<T> | undefined
    if (!p) {
      p = fn()
      once.set(key, p)
      p.catch(() => once.delete(key))
    }

    return p
  }

  let repoServer: RepoServer | undefined

  const network = () =>
    memo('network', async () => {
      preflight(VM_TOOLS)
      await acquireLabLock(options.stateDir, options.lockTimeoutMs)
      await ensureBridge(options.network)
    })

  const proxy = () =>
    memo('proxy', async () => {
      await network()
      return startAptProxy(options)
    })

  const image = () =>
    memo('image', async () => {
      const running = runningAptProxy(options) ?? (await proxy())
      const info = await ensureImage(options, {proxy: running.loopbackUrl})
      if (info.built) await pruneCache(options.cacheDir, ['base', 'image'], [info.dir, info.base], backend.diskLowers())
      return info
    })

  const packages = () =>
    memo('packages', async () => {
      const repos = await ensurePackages(options)
      await pruneCache(options.cacheDir, ['packages'], [repos.root])
      return repos
    })

  const backend = new HostRuntime(options, {image: async () => (await image()).dir, network})

  const repos = () =>
    memo('repos', async () => {
      const built = await packages()
      await network()
      await ensureUpdatesRepo(options)
      repoServer = await serveRepo(built.root, options.network.hostIp, options.repoPort, {[UPDATES_URL_PATH]: updatesServedRoot(options.stateDir)})
      const baseUrl = repoServer.url
      const url = (minor: string) => `${baseUrl}/${repoPath(minor)}/`
      return {
        ...built,
        baseUrl,
        sourcesLine: (minor: string, keyring = '/etc/apt/keyrings/kubernetes-apt-keyring.gpg') => `deb [signed-by=${keyring}] ${url(minor)} /`,
        updatesSourceLine: updatesSourceLine(baseUrl),
        url,
      }
    })

  return {
    backend,
    dropSshSessions: (vmid) => backend.dropSshSessions(vmid),
    ensureImage: image,
    ensurePackages: packages,
    options,
    publishUpdates: async (request) => publishUpdates(options, {...request, imageDir: (await image()).dir}),
    setFault: (vmid, faults) => backend.setFaults(vmid, faults),
    startAptProxy: proxy,
    startRepoServer: repos,
    async teardown(teardown = {}) {
      await repoServer?.close()
      repoServer = undefined
      for (const vmid of backend.vmids()) await backend.stop(vmid).catch(() => {})
      await stopAptProxy(options)
      once.clear()
      return teardownResolved(options, teardown)
    },
  }
}

/** The Kubernetes minors the lab's repositories carry, e.g. ['1.30', '1.31', '1.32']. */
export const LAB_MINORS = LAB_RELEASES.map((r) => r.minor)

/** Tears down the lab of a state dir from any process (`kp lab down`, or after a crash). */
export function teardownLab(input: LabHostOptions, teardown: TeardownOptions = {}): Promise<TeardownReport> {
  return createLabHost(input).teardown(teardown)
}
