/**
 * What the lab host needs from the machine, checked before anything is changed, with the exact
 * install line when something is missing.
 */
import {accessSync, constants, readFileSync} from 'node:fs'
import path from 'node:path'

import {UsageError} from '../../errors.js'
import {LAB_PATH} from './exec.js'

/** Each tool the lab runs on the host, and the Debian package that ships it. */
export const HOST_TOOLS = {
  'apt-cacher-ng': 'apt-cacher-ng',
  chroot: 'coreutils',
  debootstrap: 'debootstrap',
  'dpkg-deb': 'dpkg',
  gpg: 'gnupg',
  gpgconf: 'gnupg',
  ip: 'iproute2',
  mount: 'mount',
  mountpoint: 'util-linux',
  nsenter: 'util-linux',
  pivot_root: 'util-linux',
  umount: 'mount',
  unshare: 'util-linux',
} as const

export type HostTool = keyof typeof HOST_TOOLS

export const IMAGE_TOOLS: HostTool[] = ['debootstrap', 'chroot', 'mount', 'umount']
export const VM_TOOLS: HostTool[] = ['ip', 'mount', 'umount', 'mountpoint', 'nsenter', 'unshare', 'pivot_root']
export const PACKAGE_TOOLS: HostTool[] = ['dpkg-deb', 'gpg', 'gpgconf']
export const PROXY_TOOLS: HostTool[] = ['apt-cacher-ng']
export const ALL_TOOLS = Object.keys(HOST_TOOLS) as HostTool[]

export function findTool(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), ...LAB_PATH.split(':')].filter(Boolean)
  for (const dir of dirs) {
    const file = path.join(dir, name)
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {
      // not in this folder
    }
  }

  return undefined
}

export interface PreflightProbe {
  filesystems: () => string
  findTool: (name: string) => string | undefined
  uid: () => number
}

const realProbe: PreflightProbe = {
  filesystems: () => readFileSync('/proc/filesystems', 'utf8'),
  findTool,
  uid: () => process.getuid?.() ?? -1,
}

/** Throws a UsageError naming everything that is missing and how to install it. */
export function preflight(tools: readonly HostTool[] = ALL_TOOLS, probe: PreflightProbe = realProbe): void {
  if (probe.uid() !== 0) {
    throw new UsageError('the kp lab needs root: it creates network namespaces, overlay mounts and a bridge', {
      hint: 'run it as root (sudo -E kp lab up), on a Linux machine or VM you can spare',
    })
  }

  if (!/\toverlay$/m.test(probe.filesystems())) {
    throw new UsageError('the kernel has no overlayfs support, which the lab uses for VM disks', {
      hint: 'load it with `modprobe overlay`, or use a kernel built with CONFIG_OVERLAY_FS',
    })
  }

  const missing = [...new Set(tools)].filter((tool) => !probe.findTool(tool))
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((tool) => HOST_TOOLS[tool]))].sort()
    const line = `apt-get install -y ${packages.join(' ')}`
    throw new UsageError(`the kp lab needs ${missing.join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not installed; install with: ${line}`, {hint: line})
  }
}

/** The full install line for everything the lab host uses (for docs and CI). */
export function installLine(): string {
  return `apt-get install -y ${[...new Set(Object.values(HOST_TOOLS))].sort().join(' ')}`
}
