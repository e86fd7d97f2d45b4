import {KubeApiError} from '../../kube/errors.js'
import type {Status} from '../status.js'
import type {Check} from '../types.js'

const DAY_MS = 86_400_000

export function expiryStatus(notAfter: Date, now: Date, warnDays: number, criticalDays: number): {reason: string; status: Status} {
  const left = notAfter.getTime() - now.getTime()
  const date = notAfter.toISOString().slice(0, 10)
  if (left <= 0) return {reason: `expired on ${date}`, status: 'CRITICAL'}
  const days = Math.floor(left / DAY_MS)
  const reason = `expires ${date} (in ${days} day${days === 1 ? '' : 's'})`
  if (left <= criticalDays * DAY_MS) return {reason: `${reason}, within health.certificateCriticalDays (${criticalDays})`, status: 'CRITICAL'}
  if (left <= warnDays * DAY_MS) return {reason: `${reason}, within health.certificateWarnDays (${warnDays})`, status: 'WARNING'}
  return {reason, status: 'OK'}
}

export const apiserverCertificateCheck: Check = {
  description: "The API server's serving certificate, as presented in the TLS handshake, is not within health.certificateWarnDays (WARNING) or certificateCriticalDays (CRITICAL) of expiring.",
  name: 'apiserver-certificate',
  async run({kube, loaded, now, signal}) {
    const {certificateCriticalDays, certificateWarnDays} = loaded.config.health
    try {
      const cert = await (await kube()).servingCertificate({signal})
      return {...expiryStatus(cert.notAfter, now, certificateWarnDays, certificateCriticalDays), certificate: {name: 'apiserver', notAfter: cert.notAfter.toISOString()}}
    } catch (error) {
      // Verification refuses an expired certificate before kp can read it: that refusal is the finding.
      const code = error instanceof KubeApiError ? (error.cause as {code?: string} | undefined)?.code : undefined
      if (code === 'CERT_HAS_EXPIRED') return {reason: 'the serving certificate has expired (the TLS handshake refused it)', status: 'CRITICAL'}
      throw error
    }
  },
}
