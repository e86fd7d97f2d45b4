import type {Check} from '../types.js'
import {healthFinding} from './api.js'

export const etcdCheck: Check = {
  description: 'etcd as the API server sees it, through /readyz/etcd.',
  name: 'etcd',
  async run({kube, signal}) {
    const answer = await (await kube()).health('/readyz/etcd', {signal})
    // 404: this API server has no such check, which says nothing about etcd.
    if (answer.status === 404) return {reason: 'the API server has no /readyz/etcd check (404)', status: 'UNKNOWN'}
    const finding = healthFinding('/readyz/etcd', answer)
    return {reason: finding.text, status: finding.status}
  },
}
