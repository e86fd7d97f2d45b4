/**
 * The user's kubeconfig file: which one to merge into, reading it, and replacing it so that a crash
 * or a concurrent reader sees the old file or the new one, never half of one.
 */
import {mkdir, open, readFile, realpath, rm} from 'node:fs/promises'
import {homedir} from 'node:os'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {writeFileAtomic} from '../atomic-write.js'
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

/** Whole or not at all, mode 0600 (it holds credentials), its folder created 0700. */
export async function writeKubeconfigAtomic(file: string, text: string): Promise<void> {
  await writeFileAtomic(file, text, {dirMode: 0o700, mode: 0o600})
}
