/**
 * Fetch the admin kubeconfig: /etc/kubernetes/admin.conf from the first control plane to the path
 * kp uses for this cluster (kp.yaml's cluster.kubeconfig, else <state-dir>/clusters/<cluster>/
 * admin.conf), mode 0600, written whole or not at all. It holds a cluster-admin key: its content
 * never reaches the log. A different file already there is kept beside it as .bak.
 */
import {existsSync, readFileSync} from 'node:fs'
import {copyFile} from 'node:fs/promises'

import {writeFileAtomic} from '../../atomic-write.js'

import type {Step, UnitContext} from '../../engine/types.js'
import {kubeconfigOf} from '../../kube/from-config.js'
import {type BootstrapContext, type BootstrapFacts, type BootstrapParams, firstControlPlane} from './facts.js'

export const ADMIN_CONF = '/etc/kubernetes/admin.conf'

export function adminKubeconfigPath(ctx: BootstrapContext): string {
  return kubeconfigOf(ctx.config, ctx.stateDir)
}

export const fetchAdminKubeconfig: Step<BootstrapFacts, BootstrapParams> = {
  id: 'admin-kubeconfig',
  title: 'Fetch the admin kubeconfig',
  plan: (ctx) => [`copy ${ADMIN_CONF} from ${firstControlPlane(ctx).name} to ${adminKubeconfigPath(ctx)} (0600)`],
  async run(ctx) {
    await copyAdminConf(ctx, firstControlPlane(ctx).name, adminKubeconfigPath(ctx))
  },
}

/**
 * admin.conf of `node` into `file` (0600, whole or not at all, a different old file kept as .bak);
 * false when it was up to date. Also certs-rotate's way to hand the operator the renewed one.
 */
export async function copyAdminConf(ctx: UnitContext<unknown>, node: string, file: string): Promise<boolean> {
  const session = await ctx.ssh(node)
  const {stdout} = await session.exec(['cat', ADMIN_CONF], {secretOutput: true, signal: ctx.signal, sudo: true})
  if (!/^kind:\s*Config\s*$/m.test(stdout)) throw new Error(`${node}: ${ADMIN_CONF} is not a kubeconfig`)
  const old = existsSync(file) ? readFileSync(file, 'utf8') : undefined
  if (old === stdout) {
    ctx.log(`${file} is up to date`)
    return false
  }

  // The old file is copied aside before the new one replaces it: at no moment is there none.
  await ctx.mutate(`write ${file}`, () => writeFileAtomic(file, stdout, {beforeRename: () => (old === undefined ? undefined : copyFile(file, `${file}.bak`)), dirMode: 0o700, mode: 0o600}))
  ctx.log(`admin kubeconfig: ${file}${old === undefined ? '' : ` (the previous one is ${file}.bak)`}`)
  return true
}
