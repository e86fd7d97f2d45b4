/** A plain PVE API client for tests: token auth, form bodies, and the certificate pinned by fingerprint. */
import {request} from 'node:https'
import type {TLSSocket} from 'node:tls'

export interface PveTarget {
  endpoint: string
  fingerprint?: string
  secret: string
  tokenId: string
}

export interface PveAnswer {
  data: unknown
  status: number
  statusText: string
}

export function pveCall(target: PveTarget, method: string, apiPath: string, params: Record<string, string | number> = {}): Promise<PveAnswer> {
  const form = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString()
  const url = new URL(`/api2/json${apiPath}${method === 'GET' && form ? `?${form}` : ''}`, target.endpoint)
  const headers = {Authorization: `PVEAPIToken=${target.tokenId}=${target.secret}`, ...(method === 'GET' ? {} : {'Content-Type': 'application/x-www-form-urlencoded'})}
  return new Promise((resolve, reject) => {
    // agent: false: a fresh TLS session each time, so the peer certificate is always there to check.
    const req = request(url, {agent: false, headers, method, rejectUnauthorized: false}, (res) => {
      const seen = (res.socket as TLSSocket).getPeerCertificate().fingerprint256
      if (target.fingerprint && seen !== target.fingerprint) {
        reject(new Error(`certificate ${seen} is not the pinned ${target.fingerprint}`))
        return
      }

      let body = ''
      res.setEncoding('utf8').on('data', (d: string) => (body += d))
      res.on('end', () => resolve({data: body ? (JSON.parse(body) as {data: unknown}).data : undefined, status: res.statusCode ?? 0, statusText: res.statusMessage ?? ''}))
    })
    req.on('error', reject)
    req.end(method === 'GET' ? undefined : form)
  })
}
