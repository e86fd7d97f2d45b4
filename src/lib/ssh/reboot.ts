/**
 * Reboot detection by boot id, apart from any connection so it can be tested with fakes: read the
 * boot id, issue the reboot, see the connection drop, reconnect with backoff until the deadline,
 * and only call it done when the boot id changed (a reconnect that lands before the machine went
 * down, or a reboot that never happened, would otherwise look like success).
 */
import {InterruptedError} from '../errors.js'
import {HostKeyChangedError, HostKeyUnknownError, SshAuthError, SshIdentityError, SshTimeoutError} from './errors.js'

export interface RebootDeps {
  /** The boot id over the current connection. */
  bootId(): Promise<string>
  /** Send the reboot and resolve once the connection is gone; reject if it could not be issued. */
  reboot(deadline: number): Promise<void>
  /** A fresh connection (throws while the machine is still down), then the boot id over it. */
  reconnectBootId(timeoutMs: number): Promise<string>
  connectTimeoutMs: number
  name: string
  now?: () => number
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  signal?: AbortSignal
}

export const REBOOT_BACKOFF = {firstMs: 1000, maxMs: 10_000}

/** Errors a retry cannot fix: waiting longer would only hide them (STYLE.md, retries). */
export function isPermanent(error: unknown): boolean {
  return error instanceof HostKeyChangedError || error instanceof HostKeyUnknownError || error instanceof SshAuthError || error instanceof SshIdentityError || error instanceof InterruptedError
}

export async function rebootAndWait(deps: RebootDeps, timeoutMs: number): Promise<{bootId: string; seconds: number}> {
  const now = deps.now ?? Date.now
  const sleep = deps.sleep ?? abortableSleep
  const started = now()
  const deadline = started + timeoutMs
  const before = await deps.bootId()
  await deps.reboot(deadline)

  let delay = REBOOT_BACKOFF.firstMs
  let last = 'it did not answer yet'
  for (;;) {
    const remaining = deadline - now()
    if (remaining <= 0) break
    await sleep(Math.min(delay, remaining), deps.signal)
    delay = Math.min(delay * 2, REBOOT_BACKOFF.maxMs)
    try {
      const bootId = await deps.reconnectBootId(Math.max(1000, Math.min(deps.connectTimeoutMs, deadline - now())))
      if (bootId !== before) return {bootId, seconds: Math.round((now() - started) / 1000)}
      last = 'it answered with the same boot id: it has not rebooted (yet)'
    } catch (error) {
      if (isPermanent(error)) throw error
      last = error instanceof Error ? error.message : String(error)
    }
  }

  throw new SshTimeoutError(`${deps.name} did not come back from its reboot within ${Math.round(timeoutMs / 1000)}s; last: ${last}`, {
    hint: `Look at the VM console in Proxmox; when ${deps.name} is up again, "kp resume" continues.`,
  })
}

export function abortableSleep(ms: number, signal?: AbortSignal, waitingFor = 'a reboot'): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new InterruptedError())
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(new InterruptedError(`interrupted while waiting for ${waitingFor}`))
    }

    signal?.addEventListener('abort', onAbort, {once: true})
  })
}
