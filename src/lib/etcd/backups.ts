/**
 * The backups folder on the laptop: `<state-dir>/clusters/<cluster>/backups/` (or the folder
 * `--output` names). Each backup is `<UTC time>-<node>.db`, the snapshot exactly as etcd streamed
 * it, and `<UTC time>-<node>.json`, the sidecar kp writes after it. A backup is kp's only when its
 * sidecar is one kp wrote and names that very file: listing and retention never touch anything else.
 */
import {readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import path from 'node:path'

import {StepFailedError, UsageError} from '../errors.js'
import {clusterStateDir} from '../paths.js'
import {checkSnapshotFile} from './snapshot-file.js'

export const SIDECAR_KIND = 'kp-etcd-backup'
export const SIDECAR_FORMAT = 1

export interface Sidecar {
  kind: typeof SIDECAR_KIND
  format: typeof SIDECAR_FORMAT
  /** The snapshot's file name, in the same folder. */
  file: string
  cluster: string
  node: string
  etcdVersion: string
  kubernetesVersion: string
  revision: number
  totalKeys: number
  /** `etcdctl snapshot status`'s hash of the database's contents. */
  snapshotHash: number
  /** `snapshot status`'s totalSize: the database without etcd's trailing hash. */
  dbSize: number
  /** Bytes of the file. */
  size: number
  /** SHA-256 of the file, hex: computed on the node and checked on the laptop as the bytes arrived. */
  sha256: string
  /** When the snapshot was taken (ISO 8601, UTC). */
  createdAt: string
  kpVersion: string
  runId: string
}

export interface BackupEntry {
  /** Absolute path of the .db file. */
  file: string
  sidecarFile: string
  sidecar: Sidecar
}

export const backupsDir = (stateDir: string, cluster: string): string => path.join(clusterStateDir(stateDir, cluster), 'backups')

/** `20261206T075600Z`: sortable, and no ':' (which some file systems and tools refuse). */
export function backupStamp(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z').replaceAll(/[-:]/g, '')
}

export const backupName = (date: Date, node: string): string => `${backupStamp(date)}-${node}.db`
export const sidecarName = (dbName: string): string => dbName.replace(/\.db$/, '.json')
/** Where the copy streams to, hidden from listings until it is complete and renamed. */
export const partName = (dbName: string): string => `.${dbName}.part`
const BACKUP_NAME = /^\d{8}T\d{6}Z-[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?\.db$/

function isSidecar(value: unknown, file: string): value is Sidecar {
  if (typeof value !== 'object' || value === null) return false
  const s = value as Record<string, unknown>
  return (
    s.kind === SIDECAR_KIND &&
    s.format === SIDECAR_FORMAT &&
    s.file === file &&
    typeof s.sha256 === 'string' &&
    /^[0-9a-f]{64}$/.test(s.sha256) &&
    typeof s.size === 'number' &&
    typeof s.createdAt === 'string' &&
    !Number.isNaN(Date.parse(s.createdAt)) &&
    typeof s.node === 'string' &&
    typeof s.revision === 'number' &&
    typeof s.totalKeys === 'number'
  )
}

/** The sidecar kp wrote for this .db, or undefined (none, unreadable, or not kp's). */
export function readSidecar(dbFile: string): Sidecar | undefined {
  try {
    const value = JSON.parse(readFileSync(sidecarFileOf(dbFile), 'utf8')) as unknown
    return isSidecar(value, path.basename(dbFile)) ? value : undefined
  } catch {
    return undefined
  }
}

export const sidecarFileOf = (dbFile: string): string => path.join(path.dirname(dbFile), sidecarName(path.basename(dbFile)))

/** kp's backups in the folder, newest first. A missing folder has none. */
export function listBackups(dir: string): BackupEntry[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }

  const entries: BackupEntry[] = []
  for (const name of names) {
    if (!BACKUP_NAME.test(name)) continue
    const file = path.join(dir, name)
    const sidecar = readSidecar(file)
    if (sidecar) entries.push({file, sidecar, sidecarFile: sidecarFileOf(file)})
  }

  return entries.sort((a, b) => Date.parse(b.sidecar.createdAt) - Date.parse(a.sidecar.createdAt) || b.file.localeCompare(a.file))
}

/** Which of kp's backups retention deletes: all but the newest `keep`, never `justWritten`. */
export function retentionVictims(entries: readonly BackupEntry[], keep: number, justWritten?: string): BackupEntry[] {
  const others = entries.filter((e) => path.basename(e.file) !== justWritten)
  // The file just written counts towards the N kept.
  const room = Math.max(0, keep - (others.length < entries.length ? 1 : 0))
  return others.slice(room)
}

/** Delete a backup: the .db first, so a crash between the two leaves a sidecar (cleaned later), never an unowned .db. */
export function deleteBackup(entry: BackupEntry): void {
  rmSync(entry.file, {force: true})
  rmSync(entry.sidecarFile, {force: true})
}

/** Leftovers of runs killed mid-write: `.<name>.part` copies, sidecar temp files, kp's sidecars whose .db is gone. */
export function leftovers(dir: string): string[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }

  return names
    .filter((name) => {
      if (/^\.\d{8}T\d{6}Z-[-a-z0-9]+\.db\.part$/.test(name) || /^\.\d{8}T\d{6}Z-[-a-z0-9]+\.json\.[0-9a-f]{16}\.tmp$/.test(name)) return true
      if (!/^\d{8}T\d{6}Z-[-a-z0-9]+\.json$/.test(name)) return false
      const db = path.join(dir, name.replace(/\.json$/, '.db'))
      return !exists(db) && readSidecarText(path.join(dir, name))?.kind === SIDECAR_KIND
    })
    .map((name) => path.join(dir, name))
}

function exists(file: string): boolean {
  try {
    statSync(file)
    return true
  } catch {
    return false
  }
}

function readSidecarText(file: string): {kind?: unknown} | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as {kind?: unknown}
  } catch {
    return undefined
  }
}

export interface Verification {
  ok: boolean
  problems: string[]
  sha256: string
}

/** The sidecar's SHA-256 and size against the file, and the laptop's snapshot check. */
export async function verifyBackup(file: string, sidecar: Sidecar | undefined, signal?: AbortSignal): Promise<Verification> {
  const check = await checkSnapshotFile(file, signal)
  const problems = [...check.problems]
  if (!sidecar) problems.unshift(`it has no sidecar kp wrote (${path.basename(sidecarFileOf(file))}), so there is no SHA-256 to check it against`)
  else {
    if (check.size !== sidecar.size) problems.unshift(`it has ${check.size} bytes; its sidecar says ${sidecar.size}`)
    if (check.sha256 !== sidecar.sha256) problems.unshift(`its SHA-256 is ${check.sha256}; its sidecar says ${sidecar.sha256}: its bytes changed`)
  }

  return {ok: problems.length === 0, problems, sha256: check.sha256}
}

export interface BackupRow {
  file: string
  node: string
  /** ISO 8601, UTC. */
  time: string
  revision: number
  keys: number
  size: number
  sha256: string
  verified: boolean
  problems: string[]
}

/** kp's backups in the folder, newest first, each verified again (a full read of each file). */
export async function backupRows(dir: string, signal?: AbortSignal): Promise<BackupRow[]> {
  const rows: BackupRow[] = []
  for (const entry of listBackups(dir)) {
    const v = await verifyBackup(entry.file, entry.sidecar, signal)
    const s = entry.sidecar
    rows.push({file: entry.file, keys: s.totalKeys, node: s.node, problems: v.problems, revision: s.revision, sha256: s.sha256, size: s.size, time: s.createdAt, verified: v.ok})
  }

  return rows
}

/** `kp backup verify FILE`: the verification, or exit 1 naming the file and every problem. */
export async function verifyFile(file: string): Promise<Verification & {file: string}> {
  const abs = path.resolve(file)
  let result: Verification
  try {
    result = await verifyBackup(abs, readSidecar(abs))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`${abs} does not exist`, {hint: '"kp backup list" shows the backups kp wrote.'})
    throw error
  }

  const sidecarOnly = !result.ok && result.problems.length === 1 && !readSidecar(abs)
  if (sidecarOnly) {
    throw new StepFailedError(`${abs} is not a backup kp wrote: ${result.problems[0]}. Its bytes do pass etcd's own hash and bolt's meta-page checks.`, {
      hint: 'Without the SHA-256 taken on the node kp cannot vouch for it; "kp backup etcd" takes a backup it can.',
    })
  }

  if (!result.ok) {
    throw new StepFailedError(`${abs} is not a sound etcd backup: ${result.problems.join('; ')}`, {hint: 'Do not restore it. "kp backup list" shows the others; "kp backup etcd" takes a new one.'})
  }

  return {...result, file: abs}
}
