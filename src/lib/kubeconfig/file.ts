/**
 * The user's kubeconfig file: which one to merge into, reading it, and replacing it so that a crash
 * or a concurrent reader sees the old file or the new one, never half of one.
 */
import {randomBytes} from 'node:crypto'
import {chmod, mkdir, open, readFile, realpath, rename, rm} from 'node:fs/promises'
import {homedir} from 'node:os'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {ConfigError, errorMessage, LockedError} from '../errors.js'
import {expandHome} from '../paths.js'

/** `--kubeconfig`, else the first file in $KUBECONFIG, else ~/.kube/config. */
export function userKubeconfigPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return path.resolve(expandHome(flag))
  const first = (env.KUBECONFIG ?? '').split(path.delimiter).find((p) => p.trim() !== '')
  return first ? path.resolve(expandHome(first)) : path.join(homedir(), '.kube', 'config')
}

/** Whether kubectl reads `file` without --kubeconfig: it is in $KUBECONFIG, or it is ~/.kube/config and $KUBECONFIG is unset. */
export function kubectlReadsByDefault(file: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const list = (env.KUBECONFIG ?? '').split(path.delimiter).filter((p) => p.trim() !== '')
  if (list.length > 0) return list.some((p) => path.resolve(expandHome(p)) === file)
  return file === path.join(homedir(), '.kube', 'config')
}

/** The file a symlinked kubeconfig (dotfiles) points at: that is what gets replaced, not the link. */
export async function followLink(file: string): Promise<string> {
  return realpath(file).catch(() => file)
}

/** The file's text, or undefined when it does not exist yet. */
export async function readUserKubeconfig(file: string): Promise<string | undefined> {
  return readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined
    throw new ConfigError(`cannot read ${file}: ${describeFsError(error)}`, {hint: 'Merge into another file with --kubeconfig FILE.'})
  })
}

export function describeFsError(error: NodeJS.ErrnoException): string {
  if (error.code === 'EISDIR') return 'it is a folder'
  if (error.code === 'EACCES' || error.code === 'EPERM') return 'permission denied'
  if (error.code === 'EROFS') return 'read-only file system'
  return errorMessage(error)
}

/**
 * Hold kubectl's own lock while reading and rewriting: client-go creates `<file>.lock` exclusively
 * around every write (`kubectl config set-context` and friends), so honouring it keeps a kubectl
 * running at the same moment from losing its change or ours.
 */
export async function withKubeconfigLock<T>(file: string, fn: () => Promise<T>, waitMs = 3000): Promise<T> {
  const lock = `${file}.lock`
  await mkdir(path.dirname(file), {mode: 0o700, recursive: true})
  const deadline = Date.now() + waitMs
  for (;;) {
    const handle = await open(lock, 'wx', 0o600).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EEXIST') return undefined
      throw error
    })
    if (handle) {
      await handle.close()
      break
    }

    if (Date.now() >= deadline) {
      throw new LockedError(`${lock} exists: kubectl or another program is changing ${file}`, {hint: `Try again in a moment. If nothing is writing it (a kubectl that was killed mid-write leaves the lock behind), remove ${lock}.`})
    }

    await sleep(100)
  }

  try {
    return await fn()
  } finally {
    await rm(lock, {force: true})
  }
}

/** Temp file in the same folder, fsync, rename over: mode 0600, since it holds credentials. */
export async function writeKubeconfigAtomic(file: string, text: string): Promise<void> {
  const dir = path.dirname(file)
  await mkdir(dir, {mode: 0o700, recursive: true})
  const temp = path.join(dir, `.${path.basename(file)}.kp-${process.pid}-${randomBytes(4).toString('hex')}.tmp`)
  try {
    const handle = await open(temp, 'wx', 0o600)
    try {
      await handle.writeFile(text, 'utf8')
      await handle.sync()
    } finally {
      await handle.close()
    }

    // open()'s mode is filtered by the umask; make it exactly 0600 whatever the umask.
    await chmod(temp, 0o600)
    await rename(temp, file)
  } catch (error) {
    await rm(temp, {force: true})
    throw error
  }

  // The rename itself is durable only once the folder is flushed; best effort (not every file system allows it).
  const folder = await open(dir, 'r').catch(() => undefined)
  await folder?.sync().catch(() => {})
  await folder?.close()
}
