/**
 * Files inside a running lab VM, read and written by the supervisor (root on the host) through
 * `/proc/<init>/root`, the VM's root as its init sees it. A symlink inside the VM must resolve
 * inside the VM — seen from the host, an absolute link like `/etc/kubernetes -> /` would otherwise
 * point into the host's own root — so paths are resolved here component by component against the
 * VM's root (what openat2's RESOLVE_IN_ROOT does), and the last component is never followed when
 * writing. The lab's VMs are not hostile, but a root-owned supervisor must not be talked into
 * writing host files by a VM's file system.
 */
import {chmodSync, chownSync, closeSync, constants, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeSync} from 'node:fs'
import path from 'node:path'

const MAX_LINKS = 40

/** The host path of `vmPath` inside the root `root`, symlinks resolved within it; the last component is followed only when asked. */
export function resolveInRoot(root: string, vmPath: string, followLast = true): string {
  if (!path.posix.isAbsolute(vmPath)) throw new Error(`not an absolute path: ${vmPath}`)
  let parts = vmPath.split('/').filter(Boolean)
  const done: string[] = []
  let links = 0
  while (parts.length > 0) {
    const [head, ...rest] = parts
    parts = rest
    if (head === '.' || head === undefined) continue
    if (head === '..') {
      done.pop()
      continue
    }

    const candidate = path.join(root, ...done, head)
    const last = parts.length === 0
    let target: string | undefined
    try {
      if (lstatSync(candidate).isSymbolicLink() && (!last || followLast)) target = readlinkSync(candidate)
    } catch {
      // missing: the rest is taken literally
    }

    if (target === undefined) {
      done.push(head)
      continue
    }

    if (++links > MAX_LINKS) throw new Error(`too many levels of symbolic links in ${vmPath}`)
    parts = [...target.split('/').filter(Boolean), ...parts]
    if (target.startsWith('/')) done.length = 0
  }

  return path.join(root, ...done)
}

export interface VmFile {
  content: string
  mode: number
}

/** The contents of a file in the VM, or undefined when it does not exist (or is not a file). */
export function readVmFile(root: string, vmPath: string): string | undefined {
  try {
    return readFileSync(resolveInRoot(root, vmPath), 'utf8')
  } catch {
    return undefined
  }
}

/**
 * Whether a user could read a file in the VM: search permission on every folder on the way and
 * read permission on the file, by owner or others (groups are not looked at). Root reads anything.
 */
export function vmReadable(root: string, vmPath: string, uid: number): boolean {
  if (uid === 0) return true
  const can = (host: string, ownerBit: number, otherBit: number) => {
    const st = statSync(host)
    return (st.uid === uid ? st.mode & ownerBit : st.mode & otherBit) !== 0
  }

  try {
    const parts = vmPath.split('/').filter(Boolean)
    for (let i = 0; i < parts.length - 1; i++) {
      if (!can(resolveInRoot(root, `/${parts.slice(0, i + 1).join('/')}`), 0o100, 0o001)) return false
    }

    return can(resolveInRoot(root, vmPath), 0o400, 0o004)
  } catch {
    return false
  }
}

export function vmPathExists(root: string, vmPath: string): boolean {
  try {
    lstatSync(resolveInRoot(root, vmPath))
    return true
  } catch {
    return false
  }
}

/** Entries of a folder in the VM (empty when it does not exist). */
export function listVmDir(root: string, vmPath: string): string[] {
  try {
    return readdirSync(resolveInRoot(root, vmPath))
  } catch {
    return []
  }
}

function ensureDir(root: string, vmDir: string): void {
  const parts = vmDir.split('/').filter(Boolean)
  for (let i = 1; i <= parts.length; i++) {
    const host = resolveInRoot(root, `/${parts.slice(0, i).join('/')}`)
    try {
      if (lstatSync(host).isDirectory()) continue
      throw new Error(`${parts.slice(0, i).join('/')} is not a folder in the VM`)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
      mkdirSync(host, {mode: 0o755})
      chownSync(host, 0, 0)
    }
  }
}

/** Writes files into the VM as root with their modes (parents made 0755), replacing a file but never following a link. */
export function writeVmFiles(root: string, files: ReadonlyMap<string, VmFile> | Iterable<[string, VmFile]>): void {
  for (const [vmPath, file] of files) {
    ensureDir(root, path.posix.dirname(vmPath))
    const host = resolveInRoot(root, vmPath, false)
    try {
      if (lstatSync(host).isSymbolicLink()) rmSync(host)
    } catch {
      // new file
    }

    const fd = openSync(host, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, file.mode)
    try {
      writeSync(fd, file.content)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }

    chmodSync(host, file.mode)
    chownSync(host, 0, 0)
  }
}

/** rm -rf of paths in the VM (a link is removed, not followed). */
export function removeVmPaths(root: string, vmPaths: readonly string[]): void {
  for (const vmPath of vmPaths) rmSync(resolveInRoot(root, vmPath, false), {force: true, recursive: true})
}

/** Empties a folder in the VM, keeping the folder (kubeadm reset's "Deleting contents of directories"). */
export function emptyVmDir(root: string, vmPath: string): void {
  const dir = resolveInRoot(root, vmPath)
  for (const entry of listVmDir(root, vmPath)) rmSync(path.join(dir, entry), {force: true, recursive: true})
}
