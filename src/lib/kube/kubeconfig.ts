/**
 * A light kubeconfig reader for the common case (kubeadm's admin.conf: certificates or a token), so
 * that reads need not load @kubernetes/client-node, whose KubeConfig alone imports all its ~2500
 * generated model files (about 0.8 s of `kp health`). Anything it does not handle — exec plugins,
 * auth providers, a proxy, basic auth, a file it cannot make sense of — is `undefined`, and the
 * caller goes through client-node, which also gives the established error messages.
 */
import {readFileSync} from 'node:fs'
import path from 'node:path'

import {parse} from 'yaml'

import type {TransportOptions} from './transport.js'

export interface PlainKubeconfig {
  context: string
  headers: Record<string, string>
  server: string
  tls: TransportOptions['tls']
}

type Entry = Record<string, unknown>

/** What client-node's applyToHTTPSOptions would give, or undefined when only client-node can say. */
export function readPlainKubeconfig(file: string, context?: string): PlainKubeconfig | undefined {
  try {
    return read(file, context)
  } catch {
    return undefined
  }
}

function read(file: string, contextName?: string): PlainKubeconfig | undefined {
  const doc = parse(readFileSync(file, 'utf8')) as Entry | null
  if (!doc || typeof doc !== 'object') return undefined
  const name = contextName ?? doc['current-context']
  if (typeof name !== 'string' || name === '') return undefined
  const context = named(doc.contexts, 'context', name)
  if (!context) return undefined
  const cluster = named(doc.clusters, 'cluster', context.cluster)
  const user = context.user === undefined ? {} : named(doc.users, 'user', context.user)
  if (!cluster || !user) return undefined
  if (typeof cluster.server !== 'string' || !cluster.server.startsWith('https://') || cluster['proxy-url'] !== undefined) return undefined
  if (user.exec !== undefined || user['auth-provider'] !== undefined || user.username !== undefined || user.password !== undefined) return undefined
  if (user.as !== undefined || user['as-groups'] !== undefined || user.impersonate !== undefined) return undefined

  const dir = path.dirname(path.resolve(file))
  const material = (entry: Entry, key: string): Buffer | undefined => {
    const data = entry[`${key}-data`]
    if (typeof data === 'string' && data !== '') return Buffer.from(data, 'base64')
    const at = entry[key]
    if (typeof at === 'string' && at !== '') return readFileSync(path.resolve(dir, at))
    return undefined
  }

  const headers: Record<string, string> = {}
  const token = typeof user.token === 'string' && user.token !== '' ? user.token : typeof user.tokenFile === 'string' ? readFileSync(path.resolve(dir, user.tokenFile), 'utf8').trim() : ''
  if (token) headers.Authorization = `Bearer ${token}`
  const ca = material(cluster, 'certificate-authority')
  const cert = material(user, 'client-certificate')
  const key = material(user, 'client-key')
  return {
    context: name,
    headers,
    server: cluster.server.replace(/\/+$/, ''),
    tls: {
      ...(ca ? {ca} : {}),
      ...(cert ? {cert} : {}),
      ...(key ? {key} : {}),
      ...(cluster['insecure-skip-tls-verify'] === true ? {rejectUnauthorized: false} : {}),
      ...(typeof cluster['tls-server-name'] === 'string' && cluster['tls-server-name'] !== '' ? {servername: cluster['tls-server-name']} : {}),
    },
  }
}

/** `{name, <field>: {...}}` from a kubeconfig list. */
function named(list: unknown, field: string, name: unknown): Entry | undefined {
  if (!Array.isArray(list) || typeof name !== 'string') return undefined
  const entry = (list as Entry[]).find((e) => e?.name === name)?.[field]
  return entry && typeof entry === 'object' ? (entry as Entry) : undefined
}
