import {homedir} from 'node:os'
import path from 'node:path'

import {UsageError} from './errors.js'

/** `--state-dir`, then `$KP_STATE_DIR`, then the XDG state directory. */
export function resolveStateDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return path.resolve(flag)
  if (env.KP_STATE_DIR) return path.resolve(env.KP_STATE_DIR)
  const xdg = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(homedir(), '.local', 'state')
  return path.join(xdg, 'kp')
}

/** `-c/--config`, then `$KP_CONFIG`, then `./kp.yaml`. */
export function resolveConfigPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(flag ?? env.KP_CONFIG ?? 'kp.yaml')
}

export function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(homedir(), p.slice(1)) : p
}

/**
 * The schema's rule for cluster.name (a DNS label), kept here so that code which turns a name from a
 * flag, a lock or a journal into a path can check it without loading the schema.
 */
export const CLUSTER_NAME = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/

/** A cluster name fit to become part of a path ("../../x" is not), else a usage error (exit 2). */
export function checkClusterName(name: string, source = 'cluster name'): string {
  if (CLUSTER_NAME.test(name)) return name
  throw new UsageError(`${JSON.stringify(name)} is not a cluster name (${source}).`, {
    hint: 'A cluster name is a DNS label: lowercase letters, digits and "-", at most 63 characters, starting and ending with a letter or digit.',
  })
}

/** The state kp keeps for one cluster: its admin kubeconfig, the local copy of its kubeadm configuration. */
export function clusterStateDir(stateDir: string, cluster: string): string {
  return path.join(stateDir, 'clusters', checkClusterName(cluster))
}
