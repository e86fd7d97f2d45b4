import type {KubeCsr} from '../../kube/types.js'
import type {Check} from '../types.js'

/** Neither approved nor denied (a Failed one is decided too). */
export function isPending(csr: KubeCsr): boolean {
  return !(csr.status?.conditions ?? []).some((c) => ['Approved', 'Denied', 'Failed'].includes(c.type))
}

export const csrsCheck: Check = {
  description: 'No CertificateSigningRequest waits for approval (kubelet serving certificates wait there until approved).',
  name: 'csrs',
  async run({kube, signal}) {
    const pending = (await (await kube()).listCsrs({signal})).filter(isPending).map((c) => c.metadata?.name ?? '?')
    if (pending.length === 0) return {reason: 'no pending certificate signing requests', status: 'OK'}
    const names = pending.length > 5 ? `${pending.slice(0, 5).join(', ')} and ${pending.length - 5} more` : pending.join(', ')
    return {details: pending, reason: `${pending.length} pending: ${names}`, status: 'WARNING'}
  },
}
