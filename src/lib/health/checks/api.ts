import {KubeApiError} from '../../kube/errors.js'
import type {HealthAnswer} from '../../kube/types.js'
import {type Finding, fromFindings} from '../status.js'
import type {Check} from '../types.js'

/** `[-]etcd failed: reason withheld` lines of a healthz answer: the failing sub-checks. */
export function failedSubChecks(body: string): string[] {
  return [...body.matchAll(/^\[-\](\S+) failed/gm)].map((m) => m[1]!)
}

/** 5xx is the API server saying it is unhealthy; anything else (401, 403…) says nothing about its health. */
export function healthFinding(endpoint: string, answer: HealthAnswer): Finding {
  if (answer.ok) return {status: 'OK', text: `${endpoint} ok`}
  const failed = failedSubChecks(answer.body)
  const text = failed.length > 0 ? `${endpoint} failed: ${failed.join(', ')}` : `${endpoint} answered ${answer.status}: ${answer.body.trim().split('\n')[0]?.slice(0, 120) ?? ''}`
  return {status: answer.status >= 500 ? 'CRITICAL' : 'UNKNOWN', text}
}

export const apiCheck: Check = {
  description: 'The API server answers /livez and /readyz; a failure names the failing sub-checks.',
  name: 'api',
  // An API server that does not answer within the deadline is down, not unknown.
  onDeadline: 'CRITICAL',
  async run({kube, signal}) {
    const client = await kube()
    try {
      const [live, ready] = await Promise.all([client.health('/livez', {signal, verbose: true}), client.health('/readyz', {signal, verbose: true})])
      return fromFindings([healthFinding('livez', live), healthFinding('readyz', ready)], 'livez ok, readyz ok')
    } catch (error) {
      // No answer at all (refused, reset, TLS failure) means the API is down; other errors stay UNKNOWN.
      if (error instanceof KubeApiError && error.status === undefined) return {reason: error.message, status: 'CRITICAL'}
      throw error
    }
  },
}
