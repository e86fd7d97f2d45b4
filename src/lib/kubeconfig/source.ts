/**
 * The cluster's admin kubeconfig (kubeadm's admin.conf, fetched by kp bootstrap, or kp.yaml's
 * cluster.kubeconfig): read, checked, and reduced to the cluster and user of its current context.
 */
import {readFile} from 'node:fs/promises'
import path from 'node:path'

import {ConfigError, errorMessage} from '../errors.js'
import {NotAKubeconfigError, parseKubeconfig} from './document.js'
import type {AdminEntries} from './merge.js'

export interface AdminKubeconfig extends AdminEntries {
  /** Its current context (kubeadm's is `kubernetes-admin@kubernetes`). */
  context: string
  file: string
  /** The API server URL, for the user's information. */
  server?: string
}

export interface AdminSource {
  cluster: string
  file: string
  /** kp.yaml names the file (cluster.kubeconfig) rather than kp's default path. */
  configured: boolean
}

/** Fields holding file paths, which kubectl resolves against the kubeconfig's own folder. */
const PATH_FIELDS = {cluster: ['certificate-authority'], user: ['client-certificate', 'client-key', 'tokenFile']} as const

export async function readAdminKubeconfig(source: AdminSource): Promise<AdminKubeconfig> {
  const {file} = source
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw missing(source)
    throw new ConfigError(`cannot read the admin kubeconfig ${file}: ${error.code === 'EACCES' ? 'permission denied' : errorMessage(error)}`)
  })
  const unusable = (why: string) => new ConfigError(`${file} is not a usable kubeconfig: ${why}`, {hint: source.configured ? 'Check cluster.kubeconfig in kp.yaml.' : 'Run "kp bootstrap" again (or "kp resume") to fetch it anew.'})
  let data: {clusters?: Named[] | null; contexts?: Named[] | null; 'current-context'?: string | null; users?: Named[] | null}
  try {
    data = parseKubeconfig(text).toJS() as typeof data
  } catch (error) {
    if (error instanceof NotAKubeconfigError) throw unusable(error.message)
    throw error
  }

  const contexts = data.contexts ?? []
  const name = data['current-context'] || (contexts.length === 1 ? contexts[0]!.name : undefined)
  if (!name) throw unusable(contexts.length === 0 ? 'it has no context' : 'it has several contexts and no current-context')
  const context = contexts.find((c) => c.name === name)?.context as {cluster?: string; namespace?: string; user?: string} | undefined
  if (!context) throw unusable(`its current-context "${name}" is not among its contexts`)
  const cluster = (data.clusters ?? []).find((c) => c.name === context.cluster)?.cluster
  const user = (data.users ?? []).find((u) => u.name === context.user)?.user
  if (!isObject(cluster)) throw unusable(`context "${name}" names cluster "${context.cluster ?? ''}", which it does not define`)
  if (!isObject(user)) throw unusable(`context "${name}" names user "${context.user ?? ''}", which it does not define`)
  const dir = path.dirname(file)
  return {
    cluster: absolutePaths(cluster, PATH_FIELDS.cluster, dir),
    context: name,
    file,
    ...(context.namespace ? {namespace: context.namespace} : {}),
    ...(typeof cluster.server === 'string' ? {server: cluster.server} : {}),
    user: absolutePaths(user, PATH_FIELDS.user, dir),
  }
}

type Named = Record<string, unknown> & {name: string}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** Relative paths would point elsewhere once the entries live in another file. */
function absolutePaths(entry: Record<string, unknown>, fields: readonly string[], dir: string): Record<string, unknown> {
  const out = {...entry}
  for (const field of fields) {
    const value = out[field]
    if (typeof value === 'string' && value !== '' && !path.isAbsolute(value)) out[field] = path.resolve(dir, value)
  }

  return out
}

function missing(source: AdminSource): ConfigError {
  if (source.configured) {
    return new ConfigError(`cluster.kubeconfig in kp.yaml names ${source.file}, which does not exist`, {
      hint: 'Point cluster.kubeconfig at the admin kubeconfig of the cluster, or remove it to use the one "kp bootstrap" fetches.',
    })
  }

  return new ConfigError(`no admin kubeconfig for cluster "${source.cluster}" yet: ${source.file} does not exist`, {
    hint: 'Run "kp bootstrap" first: it fetches the file from the first control plane. For a cluster kp did not build, set cluster.kubeconfig in kp.yaml.',
  })
}
