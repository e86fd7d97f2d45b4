/**
 * After a clone POST failed without saying what happened (connection lost, timeout, a bare 5xx), the
 * clone may be running anyway: Proxmox forks the worker before it answers. Cloning again blindly would
 * fail on the taken VM id at best, or copy a template twice; so look for the clone, and wait for it.
 * Only when kp has shown that no clone to that VM id exists or started may it send the POST again.
 *
 * A running `qmclone` task carries the template's id, not the new one (qemu-server names the task
 * after the source), so several clones of one template cannot be told apart: kp waits for each of them
 * and then judges by the new VM's config. A finished clone is recognised by its name.
 */
import {ProxmoxError, ProxmoxTaskError} from './errors.js'
import {sleep} from './transport.js'
import type {PveTaskResult, PveTaskSummary, PveVmConfig} from './types.js'

/** How often to look again while the window is open. */
const LOOK_INTERVAL_MS = 250

export interface CloneProbe {
  /** The new VM's config, or undefined while it does not exist. */
  configIfExists(): Promise<PveVmConfig | undefined>
  /** Running tasks of the template. */
  runningTasks(): Promise<PveTaskSummary[]>
  /** The newest finished clone task of the template, to report its UPID. */
  finishedClone(): Promise<PveTaskResult | undefined>
  /** Every clone task of the template (running or finished) that started since just before the POST. */
  clonesSincePost(): Promise<PveTaskSummary[]>
  waitTask(upid: string): Promise<PveTaskResult>
}

export interface CloneRecoveryOptions {
  name: string
  newid: number
  probe: CloneProbe
  signal?: AbortSignal
  templateVmid: number
  /** How long the clone may take to show up after the failed POST. */
  windowMs: number
}

type Finding = {result: PveTaskResult} | {failure: ProxmoxTaskError} | undefined

/** What an unclear clone POST turned out to be: the clone (it happened after all), or proof it never started. */
export type CloneOutcome = {notStarted: true} | {result: PveTaskResult}

/** Wait for every running clone of the template; a lone failing one is most likely ours. */
async function waitForClones(options: CloneRecoveryOptions, clones: PveTaskSummary[]): Promise<Finding> {
  const settled = await Promise.allSettled(clones.map((task) => options.probe.waitTask(task.upid)))
  const failures = settled.flatMap((s) => (s.status === 'rejected' && s.reason instanceof ProxmoxTaskError ? [s.reason] : []))
  const aborted = settled.find((s) => s.status === 'rejected' && !(s.reason instanceof ProxmoxTaskError))
  if (aborted?.status === 'rejected') throw aborted.reason
  const config = await options.probe.configIfExists()
  if (config === undefined && clones.length === 1 && failures[0]) return {failure: failures[0]}
  const ok = settled.find((s) => s.status === 'fulfilled')
  return config === undefined ? undefined : judgeConfig(options, config, ok?.status === 'fulfilled' ? ok.value : undefined)
}

function judgeConfig(options: CloneRecoveryOptions, config: PveVmConfig, result: PveTaskResult | undefined): Finding {
  if (config.lock === 'clone') return undefined
  if (config.name !== options.name) {
    throw new ProxmoxError(`VM ${options.newid} exists but is named ${String(config.name)}, not ${options.name}: it is not the clone kp asked for`, {
      hint: 'choose another VM id, or remove that VM if it is a leftover',
    })
  }

  return {result: result ?? {exitstatus: 'OK', upid: 'unknown'}}
}

/** The VM first: a clone that already finished is found by its result, not by its task. */
async function lookOnce(options: CloneRecoveryOptions): Promise<Finding> {
  const config = await options.probe.configIfExists()
  if (config !== undefined && config.lock !== 'clone') return judgeConfig(options, config, await options.probe.finishedClone())
  const clones = (await options.probe.runningTasks()).filter((task) => task.type === 'qmclone')
  return clones.length > 0 ? waitForClones(options, clones) : undefined
}

/**
 * Proof that the POST started nothing: no VM with the new id, no clone of the template running or
 * started since the POST, and still no VM (a clone that ended between the looks has made it by then).
 */
async function provenNotStarted(options: CloneRecoveryOptions): Promise<{started?: PveTaskSummary} | undefined> {
  if ((await options.probe.configIfExists()) !== undefined) return undefined
  // A clone that ended OK made its VM; ours has none, so such a task was another clone of the template.
  const started = (await options.probe.clonesSincePost()).find((task) => task.status !== 'OK' && !/^WARNINGS: \d+$/.test(task.status ?? ''))
  if (started) return {started}
  return (await options.probe.configIfExists()) === undefined ? {} : undefined
}

/** The clone's result if it happened after all, `notStarted` when proven; else the POST's own error. */
export async function recoverClone(options: CloneRecoveryOptions, original: ProxmoxError): Promise<CloneOutcome> {
  const deadline = Date.now() + options.windowMs
  for (;;) {
    const finding = await lookOnce(options)
    if (finding && 'result' in finding) return finding
    if (finding && 'failure' in finding) throw finding.failure
    if (Date.now() >= deadline) break
    await sleep(LOOK_INTERVAL_MS, options.signal)
  }

  const leftover = await options.probe.configIfExists()
  if (leftover?.lock === 'clone') {
    original.message += `; VM ${options.newid} is left locked by a clone that no longer runs`
    original.hint = `remove the half-made VM on the host (\`qm unlock ${options.newid} && qm destroy ${options.newid}\`), then resume`
    throw original
  }

  const proof = await provenNotStarted(options)
  if (proof && !proof.started) return {notStarted: true}
  if (proof?.started) {
    // A clone of the template started and left no VM: it failed, or it was someone else's. Not again.
    original.message += `; a clone of template ${options.templateVmid} started meanwhile (${proof.started.upid}, ${proof.started.status ?? 'status unknown'}) and VM ${options.newid} does not exist`
    original.hint = 'see that task under Datacenter → Tasks; once nothing clones the template any more, resume'
    throw original
  }

  const finding = await lookOnce(options)
  if (finding && 'result' in finding) return finding
  throw original
}
