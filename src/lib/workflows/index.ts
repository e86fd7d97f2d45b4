import path from 'node:path'
import {pathToFileURL} from 'node:url'

import {UsageError} from '../errors.js'
import type {AnyWorkflow} from '../engine/types.js'

/**
 * Every workflow kp knows, loaded lazily so a command pays only for its own. Commands hand the
 * engine one of these loaders (or `loadWorkflow(name)` for a name they were given): the engine
 * never imports this registry.
 */
export const builtIn = {
  bootstrap: async () => (await import('./bootstrap/index.js')).bootstrap,
  'certs-rotate': async () => (await import('./certs-rotate/index.js')).certsRotate,
  'etcd-backup': async () => (await import('./etcd-backup/index.js')).etcdBackup,
  'etcd-restore': async () => (await import('./etcd-restore/index.js')).etcdRestore,
  'node-cordon': async () => (await import('./node-drain/node-cordon.js')).nodeCordon,
  'node-drain': async () => (await import('./node-drain/index.js')).nodeDrain,
  'node-patch': async () => (await import('./node-patch/index.js')).nodePatch,
  'node-prepare': async () => (await import('./node-prepare/index.js')).nodePrepare,
  'node-uncordon': async () => (await import('./node-drain/node-uncordon.js')).nodeUncordon,
  'upgrade-cluster': async () => (await import('./upgrade-cluster/index.js')).upgradeCluster,
  'vm-destroy': async () => (await import('./vm-ops/vm-destroy.js')).vmDestroy,
  'vm-rollback': async () => (await import('./vm-ops/vm-rollback.js')).vmRollback,
  'vm-seed': async () => (await import('./vm-seed/index.js')).vmSeed,
  'vm-snapshot': async () => (await import('./vm-ops/vm-snapshot.js')).vmSnapshot,
} satisfies Record<string, () => Promise<AnyWorkflow>>

/**
 * Development and test hook: `KP_EXTRA_WORKFLOWS` lists ES modules (comma-separated paths) whose
 * `workflows` export adds workflows, so the engine can be exercised end to end in a real process
 * with small fake workflows.
 */
async function extraWorkflows(): Promise<Record<string, AnyWorkflow>> {
  const out: Record<string, AnyWorkflow> = {}
  for (const file of (process.env.KP_EXTRA_WORKFLOWS ?? '').split(',').filter(Boolean)) {
    const mod = (await import(pathToFileURL(path.resolve(file)).href)) as {workflows?: AnyWorkflow[]}
    for (const wf of mod.workflows ?? []) out[wf.name] = wf
  }

  return out
}

export async function workflowNames(): Promise<string[]> {
  return [...Object.keys(builtIn), ...Object.keys(await extraWorkflows())].sort()
}

export async function loadWorkflow(name: string): Promise<AnyWorkflow> {
  const load = (builtIn as Record<string, (() => Promise<AnyWorkflow>) | undefined>)[name]
  if (load) return load()
  const extra = (await extraWorkflows())[name]
  if (extra) return extra
  throw new UsageError(`No workflow named "${name}".`, {hint: `Known workflows: ${(await workflowNames()).join(', ') || 'none'}. "kp runbook" lists them.`})
}

export async function loadAllWorkflows(): Promise<AnyWorkflow[]> {
  return Promise.all((await workflowNames()).map((name) => loadWorkflow(name)))
}
