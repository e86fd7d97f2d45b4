/**
 * Proxmox failures as typed errors. Proxmox puts its human message in the HTTP reason phrase
 * (`500 VM 201 already running`), so that phrase is what every message carries; 401 and 403 get a
 * hint naming what to check, because "permission denied" alone sends people to the wrong place.
 */
import {STATUS_CODES} from 'node:http'

import {ExitCode, KpError, type KpErrorOptions} from '../errors.js'
import {redact} from '../redact.js'

/** What kp's API token needs (DESIGN.md §7); shown whenever Proxmox answers 403. */
export const KP_PRIVILEGES = [
  'VM.Allocate',
  'VM.Clone',
  'VM.Config.Disk',
  'VM.Config.CPU',
  'VM.Config.Memory',
  'VM.Config.Network',
  'VM.Config.Cloudinit',
  'VM.Config.Options',
  'VM.PowerMgmt',
  'VM.Snapshot',
  'VM.Snapshot.Rollback',
  'VM.Monitor (guest agent on PVE 8.x; VM.GuestAgent.* on newer releases)',
  'VM.Audit',
  'Datastore.AllocateSpace',
  'Datastore.Audit',
  'SDN.Use (for bridges managed by SDN)',
] as const

export interface ProxmoxErrorOptions extends KpErrorOptions {
  /** HTTP status, when the server answered. */
  status?: number
  /** The request may have been carried out or not (connection lost, timeout, gateway error). */
  transient?: boolean
  /**
   * Proxmox refused for now before doing anything — its lock on the VM's config was busy (`can't lock
   * file … - got timeout`), or the connection was refused: any call may be sent again after a pause.
   */
  busy?: boolean
}

/** A Proxmox call failed: an external failure, so the step fails (exit 1) and the run can resume. */
export class ProxmoxError extends KpError {
  readonly busy: boolean
  readonly status?: number
  readonly transient: boolean

  constructor(message: string, options: ProxmoxErrorOptions = {}) {
    // Secrets never reach a message, even when a server or a library echoes one back.
    super('proxmox', ExitCode.stepFailed, redact(message), {...options, hint: options.hint === undefined ? undefined : redact(options.hint)})
    this.name = 'ProxmoxError'
    this.busy = options.busy ?? false
    this.status = options.status
    this.transient = options.transient ?? false
  }
}

export interface TaskErrorDetails {
  exitstatus: string
  logTail: readonly string[]
  type: string
  upid: string
  vmid?: string
}

/** A task started but ended with an exit status other than OK (or `WARNINGS: n`). */
export class ProxmoxTaskError extends ProxmoxError {
  readonly exitstatus: string
  readonly logTail: readonly string[]
  readonly taskType: string
  readonly upid: string

  constructor(details: TaskErrorDetails) {
    const subject = details.vmid ? `${details.type} of VM ${details.vmid}` : details.type
    const tail = details.logTail.length > 0 ? `\ntask log (last ${details.logTail.length} lines):\n${details.logTail.map((l) => `  ${l}`).join('\n')}` : ''
    super(`task ${subject} failed: ${details.exitstatus}${tail}`, {
      // A task that could not take its lock did nothing: the lock comes before the work.
      busy: isLockContention(details.exitstatus),
      hint: `full log: Datacenter → Tasks in the web UI, or \`pvenode task log ${details.upid}\` on the host`,
    })
    this.name = 'ProxmoxTaskError'
    this.exitstatus = details.exitstatus
    this.logTail = details.logTail
    this.taskType = details.type
    this.upid = details.upid
  }
}

export interface HttpFailure {
  /** `errors` of a 400 answer: parameter → message. */
  errors?: unknown
  method: string
  /** Path without `/api2/json`. */
  path: string
  reason: string
  status: number
  tokenId: string
}

/** pveproxy's own 5xx for a node it cannot reach (595 connection refused, 596 timed out). */
const PROXY_STATUSES = new Set([502, 503, 504, 595, 596, 599])

/**
 * Whether a 5xx says nothing about what happened. Proxmox answers every refusal with 500 and a
 * specific reason (`VM 201 already running`): those are clear, and retrying them cannot help.
 */
export function isTransientStatus(status: number, reason: string): boolean {
  if (PROXY_STATUSES.has(status)) return true
  if (status !== 500) return false
  return reason === '' || reason === STATUS_CODES[500] || /got timeout|timed out|temporarily unavailable|try again/i.test(reason)
}

/**
 * Proxmox's own lock contention (PVE::Tools::lock_file_full): the lock is taken before any work, so the
 * call did nothing and another try after a pause is safe, for any call.
 */
const LOCK_CONTENTION = /^can't lock file '[^']+' - got timeout$/

export function isLockContention(message: string): boolean {
  return LOCK_CONTENTION.test(message.trim())
}

/** A write carrying `digest` refused because the config changed since it was read (or since our own first try). */
export function isDigestMismatch(message: string): boolean {
  return /detected modified configuration|checksum missmatch|file changed? by other user/i.test(message)
}

function formatParamErrors(errors: unknown): string {
  if (errors === null || typeof errors !== 'object') return typeof errors === 'string' && errors !== '' ? `: ${errors}` : ''
  // A value may span lines (`invalid format - format error\nnet0.tag: …`): keep the message on one.
  const lines = Object.entries(errors as Record<string, unknown>).map(([key, value]) => `${key}: ${String(value).trim().replace(/\s*\n\s*/g, ' ')}`)
  return lines.length > 0 ? `: ${lines.join('; ')}` : ''
}

function unauthorized(failure: HttpFailure): ProxmoxError {
  return new ProxmoxError(`Proxmox did not accept API token ${failure.tokenId} (${failure.status} ${failure.reason}) on ${failure.method} ${failure.path}`, {
    hint:
      `the token id or its secret is wrong, or the token does not exist or has expired: check proxmox.tokenId in kp.yaml ` +
      `(USER@REALM!TOKENID) and that proxmox.tokenSecret's source yields that token's secret; ` +
      `on the host, \`pveum user token list ${failure.tokenId.split('!')[0] ?? 'USER@REALM'}\` lists the tokens`,
    status: failure.status,
  })
}

function forbidden(failure: HttpFailure): ProxmoxError {
  // `Permission check failed (/vms/201, VM.Config.Cloudinit|VM.Config.Network)`
  const m = /\(([^,()]+),\s*([^()]+)\)/.exec(failure.reason)
  const what = m ? `privilege ${m[2]?.trim()} on ${m[1]?.trim()}` : 'a privilege'
  return new ProxmoxError(`API token ${failure.tokenId} lacks ${what}: ${failure.method} ${failure.path} answered ${failure.status} ${failure.reason}`, {
    hint:
      `grant the token a role with the privileges kp needs: ${KP_PRIVILEGES.join(', ')}. ` +
      `With privilege separation both the user and the token need them ` +
      `(\`pveum acl modify / --tokens '${failure.tokenId}' --roles <role>\`); \`pveum user token permissions ${failure.tokenId.split('!')[0] ?? 'USER@REALM'} ${failure.tokenId.split('!')[1] ?? 'TOKENID'}\` shows what it has`,
    status: failure.status,
  })
}

/** The typed error for a non-200 answer. */
export function httpError(failure: HttpFailure): ProxmoxError {
  if (failure.status === 401) return unauthorized(failure)
  if (failure.status === 403) return forbidden(failure)
  const detail = failure.status === 400 ? formatParamErrors(failure.errors) : ''
  return new ProxmoxError(`${failure.method} ${failure.path}: ${failure.status} ${failure.reason}${detail}`, {
    busy: failure.status === 500 && isLockContention(failure.reason),
    status: failure.status,
    transient: isTransientStatus(failure.status, failure.reason),
  })
}
