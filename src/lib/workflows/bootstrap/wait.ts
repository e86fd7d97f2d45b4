/**
 * Waiting on the cluster: poll a condition until it holds, the deadline passes or the run is
 * interrupted. Every poll reports what it still waits for, so a timeout says exactly that.
 */
import {ExitCode, KpError} from '../../errors.js'
import type {Kube, KubeNode} from '../../kube/types.js'

/** Answers true when done, else a sentence saying what is still awaited. */
export type Condition = () => Promise<true | string>

export async function waitFor(what: string, condition: Condition, options: {intervalMs?: number; log: (line: string) => void; signal: AbortSignal; timeoutMs: number}): Promise<void> {
  const deadline = Date.now() + options.timeoutMs
  let last = ''
  for (;;) {
    options.signal.throwIfAborted()
    const state = await condition().catch((error: unknown) => `the API did not answer (${error instanceof Error ? error.message : String(error)})`)
    if (state === true) return
    if (state !== last) options.log(`waiting: ${state}`)
    last = state
    if (Date.now() >= deadline) {
      throw new KpError('kubernetes', ExitCode.stepFailed, `${what}: still not done after ${Math.round(options.timeoutMs / 1000)}s: ${state}`, {
        hint: 'look at the node with "kp ssh NODE -- sudo journalctl -u kubelet" (or kubectl describe), then kp resume',
      })
    }

    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 1000))
  }
}

export function isReady(node: KubeNode | undefined): boolean {
  return node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true
}

/** true when every named node is registered and Ready; else which ones are not, and why. */
export async function nodesReady(kube: Kube, names: readonly string[], signal: AbortSignal): Promise<true | string> {
  const nodes = new Map((await kube.listNodes({signal})).map((n) => [n.metadata?.name ?? '', n]))
  const missing = names.filter((n) => !nodes.has(n))
  const notReady = names.filter((n) => nodes.has(n) && !isReady(nodes.get(n)))
  if (missing.length === 0 && notReady.length === 0) return true
  return [missing.length > 0 ? `not registered: ${missing.join(', ')}` : '', notReady.length > 0 ? `not Ready: ${notReady.join(', ')}` : ''].filter(Boolean).join('; ')
}
