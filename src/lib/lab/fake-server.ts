/** Pieces both lab API fakes (Proxmox, Kubernetes) share. */
import {appendFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync} from 'node:fs'
import path from 'node:path'

/** The request log a fake keeps in memory and, when given a file, as JSON lines. */
export function requestRecorder<T>(file: string | undefined): {log: T[]; record(entry: T): void} {
  if (file) mkdirSync(path.dirname(file), {recursive: true})
  const log: T[] = []
  return {
    log,
    record(entry) {
      log.push(entry)
      if (!file) return
      try {
        appendFileSync(file, `${JSON.stringify(entry)}\n`)
      } catch {
        // The log is a testing aid; a full disk must not take the API down.
      }
    },
  }
}

/**
 * Builds a folder once, in a temporary sibling renamed into place, so concurrent starts (two test
 * workers) never see half a set of certificates; the loser of the race keeps the winner's.
 */
export async function atomicDir(target: string, make: (work: string) => Promise<void>): Promise<void> {
  if (existsSync(target)) return
  mkdirSync(path.dirname(target), {recursive: true})
  const work = mkdtempSync(`${target}.new-`)
  try {
    await make(work)
    try {
      renameSync(work, target)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error
    }
  } finally {
    rmSync(work, {force: true, recursive: true})
  }
}
