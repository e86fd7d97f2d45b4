/**
 * The shape a journal must have before any command trusts it. A journal is kp's own file, but it
 * lives on disk where an editor, a full disk or another version of kp can leave anything: `null`,
 * half a JSON document, a run without steps. One such file must not break the listing of every
 * other run, so each is checked on reading, and a bad one is reported with what is wrong with it.
 *
 * Hand-written rather than zod: `kp runs list` reads every journal and must start fast, and zod
 * would be most of its start-up time. Fields kp does not know are allowed (a newer kp may add some).
 */
import {CLUSTER_NAME} from '../paths.js'

/** What is wrong with a value, or undefined when nothing is. `at` names where it is, like `steps[2].units`. */
type Check = (value: unknown, at: string) => string | undefined

const text: Check = (v, at) => (typeof v === 'string' ? undefined : `${at} must be text, not ${describeValue(v)}`)
const wholeNumber: Check = (v, at) => (Number.isInteger(v) ? undefined : `${at} must be a whole number, not ${describeValue(v)}`)
const number: Check = (v, at) => (typeof v === 'number' && Number.isFinite(v) ? undefined : `${at} must be a number, not ${describeValue(v)}`)
const yesNo: Check = (v, at) => (typeof v === 'boolean' ? undefined : `${at} must be true or false, not ${describeValue(v)}`)
const anyObject: Check = (v, at) => (isObject(v) ? undefined : `${at} must be an object, not ${describeValue(v)}`)

/** Run ids become folder names; they must not climb out of the runs folder. */
const runId: Check = (v, at) => text(v, at) ?? (/^[\w.-]+$/.test(v as string) && !/^\.+$/.test(v as string) ? undefined : `${at} ${JSON.stringify(v)} is not a run id`)
const cluster: Check = (v, at) => text(v, at) ?? (CLUSTER_NAME.test(v as string) ? undefined : `${at} ${JSON.stringify(v)} is not a cluster name`)

function oneOf(values: readonly unknown[]): Check {
  return (v, at) => (values.includes(v) ? undefined : `${at} must be one of ${values.map((x) => JSON.stringify(x)).join(', ')}, not ${describeValue(v)}`)
}

function listOf(item: Check): Check {
  return (v, at) => {
    if (!Array.isArray(v)) return `${at} must be a list, not ${describeValue(v)}`
    for (const [i, x] of v.entries()) {
      const problem = item(x, `${at}[${i}]`)
      if (problem) return problem
    }

    return undefined
  }
}

function object(required: Record<string, Check>, optional: Record<string, Check> = {}): Check {
  return (v, at) => {
    if (!isObject(v)) return `${at || 'the journal'} must be an object, not ${describeValue(v)}`
    const prefix = at ? `${at}.` : ''
    for (const [key, check] of Object.entries(required)) {
      if (!(key in v)) return `${prefix}${key} is missing`
      const problem = check(v[key], `${prefix}${key}`)
      if (problem) return problem
    }

    for (const [key, check] of Object.entries(optional)) {
      const problem = key in v ? check(v[key], `${prefix}${key}`) : undefined
      if (problem) return problem
    }

    return undefined
  }
}

const UNIT_STATUSES = ['done', 'failed', 'interrupted', 'pending', 'running', 'skipped'] as const
const RUN_STATUSES = ['done', 'failed', 'interrupted', 'running'] as const

const unit = object(
  {attempts: wholeNumber, changed: yesNo, status: oneOf(UNIT_STATUSES)},
  {durationMs: number, endedAt: text, error: text, preState: anyObject, skippedReason: text, startedAt: text, target: text},
)
const step = object({id: text, status: oneOf(UNIT_STATUSES), title: text, units: listOf(unit)})
const attempt = object({host: text, pid: wholeNumber, startedAt: text, status: oneOf(RUN_STATUSES)}, {endedAt: text})

const journal = object(
  {
    argv: listOf(text),
    attempts: listOf(attempt),
    cluster,
    host: text,
    params: anyObject,
    pid: wholeNumber,
    runId,
    startedAt: text,
    status: oneOf(RUN_STATUSES),
    steps: listOf(step),
    updatedAt: text,
    version: oneOf([1]),
    workflow: text,
  },
  {configHash: text, configPath: text, error: object({kind: text, message: text}), finishedAt: text},
)

/** What makes `value` not a journal, or undefined when it is one. */
export function journalProblem(value: unknown): string | undefined {
  return journal(value, '')
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function describeValue(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'string') return v.length > 40 ? 'a long text' : JSON.stringify(v)
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  return v === undefined ? 'undefined' : 'an object'
}
