import {randomBytes} from 'node:crypto'
import {readdirSync, readFileSync} from 'node:fs'
import {hostname} from 'node:os'
import path from 'node:path'

import {writeFileAtomicSync} from '../atomic-write.js'
import {errorMessage, UsageError} from '../errors.js'
import {redactDeep} from '../redact.js'
import {journalProblem} from './journal-schema.js'

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

export function writeJournal(stateDir: string, journal: Journal): void {
  journal.updatedAt = new Date().toISOString()
  // Redact on the way to disk too: an error message may quote a secret a step saw.
  const content = JSON.stringify(redactDeep(journal), null, 2) + '\n'
  // Synchronous: the journal must be on disk before the step acts, and the signal handler writes it too.
  writeFileAtomicSync(journalFile(stateDir, journal.runId), content, {dirMode: 0o700, mode: 0o600})
}

/** A run folder whose journal.json is not a journal: truncated, edited, or from another kp. */
export interface UnreadableRun {
  file: string
  /** What is wrong, e.g. "steps is missing" or "not JSON: Unexpected end of JSON input". */
  problem: string
  runId: string
}

export type RunEntry = {journal: Journal; runId: string} | {runId: string; unreadable: UnreadableRun}

/** What to do about an unreadable journal, for hints and `kp runs list`. */
export function unreadableAdvice(run: UnreadableRun): string {
  const dir = path.dirname(run.file)
  return `Look at ${run.file}; kp cannot resume that run. Move its folder aside (mv ${dir} ${dir}.unreadable) to keep it out of the list, and clear a lock it left with "kp runs unlock".`
}

export function unreadableError(run: UnreadableRun): UsageError {
  return new UsageError(`The journal of run ${run.runId} cannot be read: ${run.file}: ${run.problem}.`, {hint: unreadableAdvice(run), runId: run.runId})
}

/**
 * One run's journal, checked against its schema. Undefined when the run has no journal (a run that
 * died before its first write has nothing to show).
 */
export function readRun(stateDir: string, runId: string): RunEntry | undefined {
  const file = journalFile(stateDir, runId)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    return {runId, unreadable: {file, problem: errorMessage(error), runId}}
  }

  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    return {runId, unreadable: {file, problem: `not JSON: ${errorMessage(error)}`, runId}}
  }

  const problem = journalProblem(value) ?? ((value as Journal).runId === runId ? undefined : `its runId "${(value as Journal).runId}" is not its folder's name`)
  return problem ? {runId, unreadable: {file, problem, runId}} : {journal: value as Journal, runId}
}

/** A run's journal, or a usage error saying there is no such run or that its journal is unreadable. */
export function readJournal(stateDir: string, runId: string): Journal {
  const entry = /^[\w.-]+$/.test(runId) ? readRun(stateDir, runId) : undefined
  if (!entry) throw new UsageError(`No run ${runId} in ${runsDir(stateDir)}.`, {hint: 'List runs with "kp runs list".'})
  if ('unreadable' in entry) throw unreadableError(entry.unreadable)
  return entry.journal
}

/** Every run with a journal, readable or not, newest first. */
export function listRuns(stateDir: string): RunEntry[] {
  let ids: string[]
  try {
    ids = readdirSync(runsDir(stateDir))
  } catch {
    return []
  }

  return ids
    .filter((id) => !id.startsWith('.'))
    .sort()
    .reverse()
    .flatMap((id) => readRun(stateDir, id) ?? [])
}

/** Every readable journal, newest first. */
export function listJournals(stateDir: string): Journal[] {
  return listRuns(stateDir).flatMap((entry) => ('journal' in entry ? [entry.journal] : []))
}

/** A run id, a unique prefix of one, or `last`; an unreadable journal is a usage error saying so. */
export function findRun(stateDir: string, ref: string): Journal {
  const entries = listRuns(stateDir)
  const matches = ref === 'last' ? entries.slice(0, 1) : entries.filter((e) => e.runId.startsWith(ref))
  if (matches.length > 1) throw new UsageError(`"${ref}" matches ${matches.length} runs: ${matches.map((e) => e.runId).join(', ')}.`, {hint: 'Give more of the run id.'})
  const [match] = matches
  if (!match) {
    if (ref === 'last') throw new UsageError(`No runs yet in ${runsDir(stateDir)}.`)
    throw new UsageError(`No run "${ref}" in ${runsDir(stateDir)}.`, {hint: 'List runs with "kp runs list".'})
  }

  if ('unreadable' in match) throw unreadableError(match.unreadable)
  return match.journal
}

/**
 * For each failed, interrupted or crashed run, the later run that made it moot: the same workflow
 * on the same cluster with the same parameters (so the same targets), finished. Resuming the old
 * one would redo work a newer run already did, from an older plan.
 */
export function supersededRuns(journals: Journal[]): Map<string, string> {
  const done = journals.filter((j) => j.status === 'done')
  const out = new Map<string, string>()
  for (const journal of journals) {
    if (!isResumable(journal)) continue
    const key = runKey(journal)
    const later = done.filter((d) => d.startedAt > journal.startedAt && runKey(d) === key).sort((a, b) => a.startedAt.localeCompare(b.startedAt))[0]
    if (later) out.set(journal.runId, later.runId)
  }

  return out
}

/** What a bare `kp resume` picks: the newest failed, interrupted or crashed run no later run superseded. */
export function newestResumable(stateDir: string): Journal | undefined {
  const journals = listJournals(stateDir)
  const superseded = supersededRuns(journals)
  return journals.find((j) => isResumable(j) && !superseded.has(j.runId))
}

function runKey(journal: Journal): string {
  return JSON.stringify([journal.workflow, journal.cluster, canonical(journal.params)])
}

/** Objects with their keys sorted, so {a, b} and {b, a} compare equal. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical)
  if (typeof value !== 'object' || value === null) return value
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]))
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
