/**
 * Removing the pods: evictions (or deletions) a bounded number at a time, each eviction retried
 * while a PodDisruptionBudget answers 429, and one poll of the node's pods to see them go — gone
 * means no pod with that name and UID (a replacement under the same name is a new pod). One
 * deadline for all of it; at the deadline the error names what blocked: the budgets with their
 * numbers and pods, or the pods that never finished terminating.
 */
import {setMaxListeners} from 'node:events'

import {formatDuration} from '../../config/duration.js'
import type {UnitContext} from '../../engine/types.js'
import {StepFailedError} from '../../errors.js'
import {isNotFound, KubeApiError} from '../../kube/errors.js'
import type {Kube} from '../../kube/types.js'
import {describePdb, type PodEntry, pdbId, terminatingTooLong, viewPdb} from './classify.js'
import type {DrainSettings} from './facts.js'

/** Requests in flight at once: enough to drain a full node (110 pods) in a few round trips without flooding the API server. */
export const CONCURRENCY = 16
/** Between evictions a budget refused (kubectl waits 5 s). */
export const RETRY_MS = 2000
/** Polls for pods to go: soon after progress (most pods go within a second or two), slowing down to MAX_POLL_MS while nothing moves. */
const POLL_MS = 500
const MAX_POLL_MS = 2000
/** Connection failures and 5xx answers on one eviction before the drain gives up. */
const TRANSIENT_TRIES = 5

export interface RemoveRequest {
  ctx: Pick<UnitContext, 'log' | 'mutate' | 'signal'>
  deadline: number
  entries: PodEntry[]
  kube: Kube
  node: string
  retryMs: number
  settings: DrainSettings
}

export interface RemoveResult {
  deleted: number
  evicted: number
  /** Terminating longer than --skip-wait-for-delete-timeout: no longer waited for. */
  skipped: string[]
}

interface Blocked {
  message: string
  pdb?: string
}

const key = (namespace: string, name: string): string => `${namespace}/${name}`

/**
 * At most `n` calls at once. Only the requests queue here, not the pods: a pod whose budget says
 * "not now" waits for its retry without holding a slot, so it never starves the pods behind it.
 */
function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0
  const queue: Array<() => void> = []
  return async (fn) => {
    // A finishing call hands its slot straight to the next in line, so no newcomer slips in between.
    if (active < n) active++
    else await new Promise<void>((resolve) => queue.push(resolve))
    try {
      return await fn()
    } finally {
      const next = queue.shift()
      if (next) next()
      else active--
    }
  }
}

/** Wait `ms`, or less when `wake` settles first; rejects when `signal` aborts. Clears its timer either way. */
function pause(ms: number, signal: AbortSignal, wake?: Promise<unknown>): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
    }

    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      resolve()
    }

    const timer = setTimeout(done, Math.max(0, ms))
    if (signal.aborted) {
      onAbort()
      return
    }

    signal.addEventListener('abort', onAbort, {once: true})
    wake?.then(done, done)
  })
}

export async function removePods(req: RemoveRequest): Promise<RemoveResult> {
  const {ctx, kube, settings} = req
  const stop = new AbortController()
  const signal = AbortSignal.any([ctx.signal, stop.signal])
  // Every pod waiting for a retry and every request in flight listens on it.
  setMaxListeners(0, signal)
  /** Sent away (or already terminating), not yet gone: id → uid. */
  const waiting = new Map<string, string>()
  const blocked = new Map<string, Blocked>()
  const result: RemoveResult = {deleted: 0, evicted: 0, skipped: []}
  const grace = settings.gracePeriodSeconds === undefined ? {} : {gracePeriodSeconds: settings.gracePeriodSeconds}
  const limit = limiter(CONCURRENCY)

  const evict = async (entry: PodEntry, namespace: string, name: string): Promise<'blocked' | 'gone' | 'sent'> => {
    let transient = 0
    for (;;) {
      try {
        await limit(() => kube.evictPod(namespace, name, {...grace, signal}))
        blocked.delete(entry.id)
        return 'sent'
      } catch (error) {
        if (signal.aborted) throw error
        if (isNotFound(error)) {
          blocked.delete(entry.id)
          return 'gone'
        }

        const api = error instanceof KubeApiError ? error : undefined
        // 429 is the budget saying "not now"; the one 500 that is not transient is two budgets on one pod.
        const retry = api?.status === 429 || (api?.transient === true && !/more than one PodDisruptionBudget/.test(api.message) && ++transient <= TRANSIENT_TRIES)
        if (!retry) throw error
        const cause = api?.causes().find((c) => c.reason === 'DisruptionBudget')?.message
        const decision = entry.decision.action === 'evict' ? entry.decision : undefined
        if (!blocked.has(entry.id)) ctx.log(`${entry.id}: ${cause ?? api?.message ?? 'refused'}; retrying every ${formatDuration(req.retryMs)}`)
        blocked.set(entry.id, {message: cause ?? api?.message ?? String(error), pdb: decision?.pdb ?? (cause ? pdbFromCause(namespace, cause) : undefined)})
      }

      const left = req.deadline - Date.now()
      if (left <= 0) return 'blocked'
      await pause(Math.min(req.retryMs, left), signal)
    }
  }

  const send = async (entry: PodEntry): Promise<void> => {
    const namespace = entry.pod.metadata?.namespace ?? 'default'
    const name = entry.pod.metadata?.name ?? ''
    const uid = entry.pod.metadata?.uid ?? ''
    if (entry.decision.action === 'wait') {
      waiting.set(entry.id, uid)
      return
    }

    if (entry.decision.action === 'delete') {
      await ctx.mutate(`delete pod ${entry.id}`, async () => {
        try {
          // The UID precondition spares a replacement that took the name meanwhile.
          await limit(() => kube.deletePod(namespace, name, {...grace, signal, uid}))
          result.deleted++
          waiting.set(entry.id, uid)
        } catch (error) {
          if (!(isNotFound(error) || (error instanceof KubeApiError && error.status === 409))) throw error
        }
      })
      return
    }

    const outcome = await ctx.mutate(`evict pod ${entry.id}`, () => evict(entry, namespace, name))
    if (outcome === 'sent') {
      result.evicted++
      waiting.set(entry.id, uid)
    }
  }

  let failure: Error | undefined
  let sent = false
  /** Not yet sent, gone, or known to be blocked: what a deadline cut short. */
  const unsettled = new Set(req.entries.map((e) => e.id))
  const sending = Promise.all(
    req.entries.map(async (entry) => {
      try {
        await send(entry)
        unsettled.delete(entry.id)
      } catch (error) {
        // After the deadline (stop) the aborted requests are not failures of their own.
        if (stop.signal.aborted) return
        failure ??= error instanceof Error ? error : new Error(String(error))
        stop.abort()
      }
    }),
  ).then(() => {
    sent = true
  })

  let pollMs = POLL_MS / 2
  let sentBefore = 0
  try {
    while (failure === undefined && (!sent || waiting.size > 0) && Date.now() < req.deadline) {
      await pause(Math.min(pollMs, req.deadline - Date.now()), ctx.signal, sent ? undefined : sending)
      const before = waiting.size
      if (waiting.size > 0 && failure === undefined) await checkGone(req, waiting, result)
      const moved = waiting.size < before || result.evicted + result.deleted > sentBefore
      sentBefore = result.evicted + result.deleted
      pollMs = moved ? POLL_MS : Math.min(pollMs * 2, MAX_POLL_MS)
    }
  } finally {
    stop.abort()
    await sending
  }

  if (failure !== undefined) throw failure
  for (const id of blocked.keys()) unsettled.delete(id)
  if (blocked.size === 0 && waiting.size === 0 && unsettled.size === 0) return result
  throw await timeoutError(req, blocked, waiting, unsettled)
}

/** "The disruption budget web needs 2 healthy pods and has 2 currently" → default/web. */
function pdbFromCause(namespace: string, cause: string): string | undefined {
  const name = /disruption budget (\S+)/.exec(cause)?.[1]
  return name ? key(namespace, name) : undefined
}

async function checkGone(req: RemoveRequest, waiting: Map<string, string>, result: RemoveResult): Promise<void> {
  const pods = await req.kube.listPods({fieldSelector: `spec.nodeName=${req.node}`}, {signal: req.ctx.signal})
  const now = Date.now()
  const present = new Map(pods.map((p) => [key(p.metadata?.namespace ?? 'default', p.metadata?.name ?? ''), p]))
  for (const [id, uid] of waiting) {
    const pod = present.get(id)
    if (!pod || pod.metadata?.uid !== uid) {
      waiting.delete(id)
      req.ctx.log(`${id} is gone`)
    } else if (terminatingTooLong(pod, req.settings.skipWaitForDeleteTimeoutSeconds, now)) {
      waiting.delete(id)
      result.skipped.push(id)
      req.ctx.log(`${id} has been terminating for more than ${req.settings.skipWaitForDeleteTimeoutSeconds}s: no longer waiting for it (--skip-wait-for-delete-timeout)`)
    }
  }
}

async function timeoutError(req: RemoveRequest, blocked: Map<string, Blocked>, waiting: Map<string, string>, unsent: Set<string>): Promise<StepFailedError> {
  const after = `timed out after ${formatDuration(req.settings.timeoutMs)}`
  const parts: string[] = []
  const byPdb = new Map<string, string[]>()
  const unexplained: string[] = []
  for (const [id, b] of [...blocked].sort(([a], [c]) => a.localeCompare(c))) {
    if (b.pdb) byPdb.set(b.pdb, [...(byPdb.get(b.pdb) ?? []), id])
    else unexplained.push(`${id} (${b.message})`)
  }

  // Fresh numbers for the message; the last 429's text when the budgets cannot be read.
  const budgets = byPdb.size > 0 ? await req.kube.listPdbs({signal: req.ctx.signal}).catch(() => []) : []
  for (const [id, pods] of byPdb) {
    const pdb = budgets.find((b) => pdbId(b) === id)
    const what = pdb ? describePdb(viewPdb(pdb)) : `PodDisruptionBudget ${id} (${blocked.get(pods[0]!)?.message ?? 'refused the evictions'})`
    parts.push(`${what} — blocking pods ${pods.join(', ')}`)
  }

  if (unexplained.length > 0) parts.push(`evictions still refused: ${unexplained.join(', ')}`)
  if (unsent.size > 0) parts.push(`not evicted yet: ${[...unsent].sort().join(', ')}`)
  const terminating = [...waiting.keys()].sort()
  if (parts.length === 0) {
    return new StepFailedError(`${after} waiting for pods to terminate: ${terminating.join(', ')}`, {
      hint: 'A pod that does not finish terminating has a finalizer nobody removes or a kubelet that is gone: kubectl get pod -n NAMESPACE NAME -o yaml shows which; --skip-wait-for-delete-timeout=SECONDS stops waiting for pods deleted that long ago.',
    })
  }

  if (terminating.length > 0) parts.push(`still terminating: ${terminating.join(', ')}`)
  return new StepFailedError(`${after} waiting for evictions; ${parts.join('; ')}`, {
    hint:
      byPdb.size > 0
        ? 'A PodDisruptionBudget lets no more of its pods go: wait until its pods are healthy, scale the workload up or relax the budget (kubectl get pdb -A), then resume; --disable-eviction bypasses budgets (asks first).'
        : 'The API server kept refusing or did not answer in time: check it (kubectl get --raw /readyz), then resume; a longer --timeout gives it more time.',
  })
}
