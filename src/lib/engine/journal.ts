import {randomBytes} from 'node:crypto'
import {closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, writeSync} from 'node:fs'
import {hostname} from 'node:os'
import path from 'node:path'

import {UsageError} from '../errors.js'
import {redactDeep} from '../redact.js'

export type UnitStatus = 'done' | 'failed' | 'interrupted' | 'pending' | 'running' | 'skipped'
export type RunStatus = 'done' | 'failed' | 'interrupted' | 'running'
/** What `kp runs list` shows: a `running` run whose process is gone crashed. */
export type EffectiveStatus = 'crashed' | RunStatus

export interface UnitRecord {
  attempts: number
  changed: boolean
  durationMs?: number
  endedAt?: string
  error?: string
  preState?: Record<string, unknown>
  skippedReason?: string
  startedAt?: string
  status: UnitStatus
  /** Undefined for a step without targets. */
  target?: string
}

export interface StepRecord {
  id: string
  status: UnitStatus
  title: string
  /** Filled when the step starts and its targets are known. */
  units: UnitRecord[]
}

export interface AttemptRecord {
  endedAt?: string
  host: string
  pid: number
  startedAt: string
  status: RunStatus
}

export interface Journal {
  argv: string[]
  attempts: AttemptRecord[]
  cluster: string
  configHash?: string
  configPath?: string
  error?: {kind: string; message: string}
  finishedAt?: string
  host: string
  params: Record<string, unknown>
  pid: number
  runId: string
  startedAt: string
  status: RunStatus
  steps: StepRecord[]
  updatedAt: string
  version: 1
  workflow: string
}

export function runsDir(stateDir: string): string {
  return path.join(stateDir, 'runs')
}

export function runDir(stateDir: string, runId: string): string {
  return path.join(runsDir(stateDir), runId)
}

export function journalFile(stateDir: string, runId: string): string {
  return path.join(runDir(stateDir, runId), 'journal.json')
}

export function logFile(stateDir: string, runId: string): string {
  return path.join(runDir(stateDir, runId), 'run.log')
}

/** Sortable by time, unique enough for one operator: 20261123-091500-3f9a. */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replaceAll(/[-:]/g, '').replace('T', '-').slice(0, 15)
  return `${stamp}-${randomBytes(2).toString('hex')}`
}

/**
 * Write a file so that a reader (or a crash) sees the old or the new content, never half of one:
 * temp file, fsync, rename. Synchronous on purpose: the journal must be on disk before the step
 * acts, and the signal handler writes it too.
 */
export function writeFileAtomic(file: string, content: string, mode = 0o600): void {
  mkdirSync(path.dirname(file), {mode: 0o700, recursive: true})
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`
  const fd = openSync(tmp, 'w', mode)
  try {
    writeSync(fd, content)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }

  renameSync(tmp, file)
}

export function writeJournal(stateDir: string, journal: Journal): void {
  journal.updatedAt = new Date().toISOString()
  // Redact on the way to disk too: an error message may quote a secret a step saw.
  writeFileAtomic(journalFile(stateDir, journal.runId), JSON.stringify(redactDeep(journal), null, 2) + '\n')
}

export function readJournal(stateDir: string, runId: string): Journal {
  const file = journalFile(stateDir, runId)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    throw new UsageError(`No run ${runId} in ${runsDir(stateDir)}.`, {hint: 'List runs with "kp runs list".'})
  }

  return JSON.parse(text) as Journal
}

/** Every readable journal, newest first. */
export function listJournals(stateDir: string): Journal[] {
  let ids: string[]
  try {
    ids = readdirSync(runsDir(stateDir))
  } catch {
    return []
  }

  const journals: Journal[] = []
  for (const id of ids.sort().reverse()) {
    try {
      journals.push(JSON.parse(readFileSync(journalFile(stateDir, id), 'utf8')) as Journal)
    } catch {
      // A folder without a journal is a run that died before its first write; nothing to show.
    }
  }

  return journals
}

/** A run id, a unique prefix of one, or `last`. */
export function findRun(stateDir: string, ref: string): Journal {
  const journals = listJournals(stateDir)
  if (ref === 'last') {
    const last = journals[0]
    if (!last) throw new UsageError(`No runs yet in ${runsDir(stateDir)}.`)
    return last
  }

  const matches = journals.filter((j) => j.runId.startsWith(ref))
  if (matches.length === 1) return matches[0]!
  if (matches.length > 1) throw new UsageError(`"${ref}" matches ${matches.length} runs: ${matches.map((j) => j.runId).join(', ')}.`, {hint: 'Give more of the run id.'})
  throw new UsageError(`No run "${ref}" in ${runsDir(stateDir)}.`, {hint: 'List runs with "kp runs list".'})
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export function effectiveStatus(journal: Journal): EffectiveStatus {
  if (journal.status !== 'running') return journal.status
  if (journal.host === hostname() && !isProcessAlive(journal.pid)) return 'crashed'
  return 'running'
}

export function isResumable(journal: Journal): boolean {
  const status = effectiveStatus(journal)
  return status === 'failed' || status === 'interrupted' || status === 'crashed'
}

export function unitCounts(journal: Journal): {done: number; total: number} {
  let done = 0
  let total = 0
  for (const step of journal.steps) {
    // A step that has not started yet counts as one unit until its targets are known.
    const units = step.units.length > 0 ? step.units : [{status: step.status}]
    total += units.length
    done += units.filter((u) => u.status === 'done' || u.status === 'skipped').length
  }

  return {done, total}
}
