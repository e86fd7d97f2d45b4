/**
 * Where the lab host keeps things and which addresses it uses. The cache dir outlives labs (the
 * node image, apt-cacher-ng's cache, the package repositories and their signing key); the state
 * dir belongs to one lab (VM disks, seeds, logs, pid files) and `teardown` empties it of anything
 * live.
 */
import {existsSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {UsageError} from '../../errors.js'

export interface LabHostOptions {
  /** apt-cacher-ng's port on the bridge address. Default 3142. */
  aptProxyPort?: number
  /** Default `kplab0`. Every link, namespace and process the lab makes is named with `kplab`. */
  bridge?: string
  /** Survives labs: image, apt cache, package repositories, GPG key. Default `/var/cache/kp-lab`. */
  cacheDir?: string
  /** The bridge's address with prefix; VMs get addresses in this subnet. Default `10.77.0.1/24`. */
  hostCidr?: string
  /** How long `createLabHost`'s lab lock waits for another lab on this machine to go. Default 0. */
  lockTimeoutMs?: number
  /** Progress lines (image build, proxy start). Default: none. */
  log?: (line: string) => void
  /** The Debian mirror the image and the VMs use (through apt-cacher-ng). */
  mirror?: string
  /** How long a VM stays down on reboot, in seconds. Default 2. */
  rebootDelaySeconds?: number
  /** The package repository server's port on the bridge address. Default 8080. */
  repoPort?: number
  stateDir: string
}

export interface LabNetwork {
  bridge: string
  /** e.g. 10.77.0.1/24 */
  cidr: string
  hostIp: string
  prefix: number
  /** e.g. 10.77.0.0/24 */
  subnet: string
}

export interface ResolvedLabOptions {
  aptProxyPort: number
  cacheDir: string
  lockTimeoutMs: number
  log: (line: string) => void
  mirror: string
  network: LabNetwork
  rebootDelaySeconds: number
  repoPort: number
  stateDir: string
}

/** The machine-wide image and package cache; `KP_LAB_CACHE_DIR` moves it (a cold benchmark, a small disk). */
export const DEFAULT_CACHE_DIR = process.env.KP_LAB_CACHE_DIR ?? '/var/cache/kp-lab'
export const LAB_PREFIX = 'kplab'

export function resolveOptions(options: LabHostOptions): ResolvedLabOptions {
  const stateDir = path.resolve(options.stateDir)
  const cacheDir = path.resolve(options.cacheDir ?? DEFAULT_CACHE_DIR)
  for (const [name, dir] of [['stateDir', stateDir], ['cacheDir', cacheDir]] as const) {
    // Overlayfs mount options are split on commas and colons.
    if (/[,:\s]/.test(dir)) throw new UsageError(`lab ${name} ${dir} must not contain commas, colons or white space`)
  }

  const bridge = options.bridge ?? `${LAB_PREFIX}0`
  if (!bridge.startsWith(LAB_PREFIX) || bridge.length > 15) {
    throw new UsageError(`lab bridge name ${bridge} must start with ${LAB_PREFIX} and be at most 15 characters`)
  }

  return {
    aptProxyPort: options.aptProxyPort ?? 3142,
    cacheDir,
    lockTimeoutMs: options.lockTimeoutMs ?? 0,
    log: options.log ?? (() => {}),
    mirror: options.mirror ?? 'http://deb.debian.org/debian',
    network: parseHostCidr(options.hostCidr ?? '10.77.0.1/24', bridge),
    rebootDelaySeconds: options.rebootDelaySeconds ?? 2,
    repoPort: options.repoPort ?? 8080,
    stateDir,
  }
}

export function parseHostCidr(cidr: string, bridge: string): LabNetwork {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr)
  const octets = match ? match.slice(1, 5).map(Number) : []
  const prefix = match ? Number(match[5]) : Number.NaN
  if (!match || octets.some((o) => o > 255) || prefix < 8 || prefix > 30) {
    throw new UsageError(`lab host address ${cidr} is not an IPv4 address with a prefix between /8 and /30, like 10.77.0.1/24`)
  }

  const ip = ipToInt(octets.join('.'))
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
  return {bridge, cidr, hostIp: octets.join('.'), prefix, subnet: `${intToIp((ip & mask) >>> 0)}/${prefix}`}
}

export function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => ((acc << 8) | Number(o)) >>> 0, 0)
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.')
}

/** Whether an IPv4 address lies in a subnet given as a.b.c.d/prefix. */
export function inSubnet(ip: string, subnet: string): boolean {
  const [base = '', bits = '32'] = subnet.split('/')
  const prefix = Number(bits)
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
  return ((ipToInt(ip) & mask) >>> 0) === ((ipToInt(base) & mask) >>> 0)
}

/** The repository's lab/assets folder, from src/ or dist/ alike. */
export function assetsDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir)
    if (parent === dir) throw new Error('kp cannot find its own package.json')
    dir = parent
  }

  return path.join(dir, 'lab', 'assets')
}

/** Files and folders of one lab's state dir. */
export function statePaths(stateDir: string) {
  return {
    aptProxy: path.join(stateDir, 'apt-cacher-ng'),
    vms: path.join(stateDir, 'vms'),
    vm: (vmid: number) => path.join(stateDir, 'vms', String(vmid)),
  }
}

/** Files and folders of the shared cache dir. */
export function cachePaths(cacheDir: string) {
  return {
    aptCache: path.join(cacheDir, 'apt-cacher-ng'),
    gnupg: path.join(cacheDir, 'gnupg'),
    root: cacheDir,
  }
}

/** Names the lab gives a VM's network namespace and its veth's host end. */
export function vmNames(vmid: number): {netns: string; veth: string} {
  return {netns: `${LAB_PREFIX}-${vmid}`, veth: `${LAB_PREFIX}v${vmid}`}
}

/** A machine-wide file saying which lab (state dir) owns the lab network right now. */
export const LAB_LOCK_FILE = '/run/kp-lab/lab.lock'
