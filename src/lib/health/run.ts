/**
 * Runs the health checks: all at once, against one Kubernetes connection, under one deadline. A
 * check that has not answered by the deadline is given its onDeadline status and its calls are
 * aborted; every connection is closed before the report is returned, so the process can exit at
 * once. Never throws for what it finds, nor for an unreadable kp.yaml (that is a report too, with
 * up: false, so the Prometheus file never goes stale); only for a usage error.
 */
import {readFile} from 'node:fs/promises'

import {parse} from 'yaml'

import {loadConfig, type LoadedConfig} from '../config/load.js'
import {formatDuration} from '../config/duration.js'
import {errorMessage, KpError, UsageError} from '../errors.js'
import {kubeFromConfig} from '../kube/from-config.js'
import type {Kube} from '../kube/types.js'
import type {SshPool} from '../ssh/types.js'
import {redact} from '../redact.js'
import {CHECKS} from './checks/index.js'
import type {CheckName} from './names.js'
import {EXIT_CODE, worst} from './status.js'
import type {Check, CheckResult, HealthContext, HealthReport, Outcome} from './types.js'

export interface HealthOptions {
  /** Names from --check; every applicable check when empty. */
  checks: readonly CheckName[]
  configPath: string
  /** Also look at the nodes over SSH, inside the same deadline. */
  deep?: boolean
  /** Per-request log lines of the adapters (--verbose). */
  log?: (line: string) => void
  stateDir: string
  timeoutMs: number
  warn: (line: string) => void
}

/** The kube adapter retries GETs; a health probe that answers 500 means it, so only one retry. */
const RETRY = {baseMs: 200, maxMs: 1000, tries: 2}

export async function runHealth(options: HealthOptions): Promise<HealthReport> {
  const started = performance.now()
  const startedAt = new Date()
  // Keys in one fixed order, so the JSON document reads the same every run.
  const report = (cluster: string, checks: CheckResult[], error?: HealthReport['error']): HealthReport => {
    const status = worst(checks.map((c) => c.status))
    const durationMs = Math.round(performance.now() - started)
    return {cluster, status, exitCode: EXIT_CODE[status], up: !error, startedAt: startedAt.toISOString(), durationMs, timeoutMs: options.timeoutMs, checks, ...(error ? {error} : {})}
  }

  let loaded: LoadedConfig
  try {
    loaded = await loadConfig(options.configPath)
  } catch (error) {
    const kp = error instanceof KpError ? error : undefined
    const message = redact(errorMessage(error))
    const unknown = CHECKS.filter((c) => (options.checks.length === 0 ? c.name !== 'proxmox' && c.name !== 'backup' && (!c.deepOnly || options.deep) : options.checks.includes(c.name)))
    const reason = `kp.yaml could not be used: ${message.split('\n')[0]!.replace(/:$/, '')}`
    const results = unknown.map((c): CheckResult => ({name: c.name, status: 'UNKNOWN', reason, durationMs: 0, details: []}))
    return report((await clusterNameHint(options.configPath)) ?? '', results, {message, ...(kp?.hint ? {hint: kp.hint} : {})})
  }

  const selected = select(loaded, options.checks, options.stateDir, Boolean(options.deep))
  const controller = new AbortController()
  const closers: Array<() => Promise<void> | void> = []
  let closing = false
  // Something opened after the run ended (a check still connecting at the deadline) is closed at once.
  const onClose = (fn: () => Promise<void> | void) => {
    if (closing) void Promise.resolve(fn()).catch(() => undefined)
    else closers.push(fn)
  }

  let connection: Promise<Kube> | undefined
  let pool: Promise<SshPool> | undefined
  const ctx: HealthContext = {
    deep: Boolean(options.deep),
    kube: () => {
      connection ??= kubeFromConfig(loaded, options.stateDir, {log: options.log, plainReads: true, requestTimeoutMs: options.timeoutMs, retry: RETRY, signal: controller.signal}).then((kube) => {
        onClose(() => kube.close())
        controller.signal.throwIfAborted()
        return kube
      })
      return connection
    },
    loaded,
    now: startedAt,
    onClose,
    signal: controller.signal,
    stateDir: options.stateDir,
    async ssh(node) {
      if (!options.deep) throw new Error('SSH checks run only with --deep')
      // Loaded only for --deep: a plain kp health stays as light as it is.
      const [{createSshPool}, {poolOptionsFromConfig, targetOf}, {findNode}] = await Promise.all([import('../ssh/index.js'), import('../ssh/from-config.js'), import('../config/nodes.js')])
      pool ??= Promise.resolve(createSshPool(poolOptionsFromConfig(loaded.config, {log: options.log ? (scope, line) => options.log!(`${scope}: ${line}`) : undefined, signal: controller.signal, stateDir: options.stateDir}))).then((p) => {
        onClose(() => p.closeAll())
        return p
      })
      return (await pool).session(targetOf(loaded.config, findNode(loaded.config, node)))
    },
    warn: options.warn,
  }

  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      // A TimeoutError reason makes the adapters report "no answer", not an interrupt by the operator.
      controller.abort(new DOMException(`no answer within ${formatDuration(options.timeoutMs)}`, 'TimeoutError'))
      resolve()
    }, options.timeoutMs)
  })
  try {
    const results = await Promise.all(selected.map((check) => runCheck(check, ctx, deadline, options.timeoutMs)))
    return report(loaded.config.cluster.name, results)
  } finally {
    clearTimeout(timer)
    closing = true
    if (!controller.signal.aborted) controller.abort()
    await Promise.allSettled(closers.map(async (close) => close()))
  }
}

function select(loaded: LoadedConfig, names: readonly CheckName[], stateDir: string, deep: boolean): Check[] {
  if (names.length === 0) return CHECKS.filter((c) => (c.applies?.(loaded) ?? true) && (c.byDefault?.(loaded, stateDir) ?? true) && (!c.deepOnly || deep))
  const checks = CHECKS.filter((c) => names.includes(c.name))
  const shallow = checks.find((c) => c.deepOnly && !deep)
  if (shallow) throw new UsageError(`the ${shallow.name} check reads the nodes over SSH: it runs only with --deep`, {hint: `kp health --deep --check ${shallow.name}`})
  const inapplicable = checks.find((c) => !(c.applies?.(loaded) ?? true))
  if (inapplicable) throw new UsageError(`there is no ${inapplicable.name} check for ${loaded.path}: it has no ${inapplicable.name} section`, {hint: 'leave out --check proxmox, or add the section'})
  return checks
}

async function runCheck(check: Check, ctx: HealthContext, deadline: Promise<void>, timeoutMs: number): Promise<CheckResult> {
  const started = performance.now()
  const elapsed = () => Math.round(performance.now() - started)
  const outcome = await Promise.race<Outcome>([
    check.run(ctx).catch((error: unknown) => ({reason: errorMessage(error).split('\n')[0]!, status: 'UNKNOWN'})),
    deadline.then(() => ({reason: `no answer within ${formatDuration(timeoutMs)}`, status: check.onDeadline ?? 'UNKNOWN'})),
  ])
  const {backup, certificate, details = [], metrics, reason, status} = outcome
  return {name: check.name, status, reason: redact(reason), durationMs: elapsed(), details: details.map(redact), ...(certificate ? {certificate} : {}), ...(backup ? {backup} : {}), ...(metrics?.length ? {metrics} : {})}
}

/** The cluster label for a report on a kp.yaml that does not load: its cluster.name if it can be read at all. */
async function clusterNameHint(file: string): Promise<string | undefined> {
  try {
    const name = (parse(await readFile(file, 'utf8')) as {cluster?: {name?: unknown}} | null)?.cluster?.name
    return typeof name === 'string' ? name : undefined
  } catch {
    return undefined
  }
}
