/**
 * Refresh the admin kubeconfig: the renewed /etc/kubernetes/admin.conf of the first control plane
 * done, over SSH (it carries a cluster-admin key: never logged), into the file kp.yaml points at —
 * atomically, the old one kept as .bak (bootstrap's own fetch) — and into the operator's kubeconfig
 * when `kp kubeconfig --merge` put a kp-<cluster> context there. This is the fix for an admin
 * kubeconfig that has expired: nothing before this step needed it.
 */
import {existsSync} from 'node:fs'

import type {Step} from '../../engine/types.js'
import {kubeconfigOf} from '../../kube/from-config.js'
import {kpNames, mergeAdminKubeconfig, userKubeconfigPath} from '../../kubeconfig/index.js'
import {parseKubeconfig} from '../../kubeconfig/document.js'
import {readUserKubeconfig} from '../../kubeconfig/file.js'
import {ADMIN_CONF, copyAdminConf} from '../bootstrap/admin-kubeconfig.js'
import type {RotateContext, RotateFacts, RotateParams} from './facts.js'

/** The operator's kubeconfig when it holds kp's merged context for this cluster. */
async function mergedInto(ctx: RotateContext): Promise<string | undefined> {
  const target = userKubeconfigPath(undefined)
  const text = await readUserKubeconfig(target).catch(() => undefined)
  if (text === undefined) return undefined
  try {
    const contexts = (parseKubeconfig(text).toJS() as {contexts?: Array<{name?: string}> | null}).contexts ?? []
    return contexts.some((c) => c.name === kpNames(ctx.config.config.cluster.name).context) ? target : undefined
  } catch {
    return undefined
  }
}

export const refreshKubeconfig: Step<RotateFacts, RotateParams> = {
  id: 'refresh-kubeconfig',
  title: 'Refresh the admin kubeconfig',
  async plan(ctx) {
    const file = kubeconfigOf(ctx.config, ctx.stateDir)
    const merged = await mergedInto(ctx)
    return [
      `copy ${ADMIN_CONF} from ${ctx.facts.order[0]!} to ${file} (0600${existsSync(file) ? `, the old one kept as ${file}.bak` : ''})`,
      ...(merged ? [`update context ${kpNames(ctx.config.config.cluster.name).context} in ${merged}`] : []),
    ]
  },
  async run(ctx) {
    const file = kubeconfigOf(ctx.config, ctx.stateDir)
    await copyAdminConf(ctx, ctx.facts.order[0]!, file)
    const merged = await mergedInto(ctx)
    if (!merged) return
    const source = {cluster: ctx.config.config.cluster.name, configured: ctx.config.config.cluster.kubeconfig !== undefined, file}
    const result = await ctx.mutate(`update context ${kpNames(source.cluster).context} in ${merged}`, () => mergeAdminKubeconfig(source, {target: merged}))
    if (result) ctx.log(result.changed ? `context ${result.context} in ${merged} updated` : `context ${result.context} in ${merged} was up to date`)
  },
}
