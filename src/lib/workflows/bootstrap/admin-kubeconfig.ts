/**
 * Fetch the admin kubeconfig: /etc/kubernetes/admin.conf from the first control plane to the path
 * kp uses for this cluster (kp.yaml's cluster.kubeconfig, else <state-dir>/clusters/<cluster>/
 * admin.conf), mode 0600, written whole or not at all. It holds a cluster-admin key: its content
 * never reaches the log. A different file already there is kept beside it as .bak.
 */
import {existsSync, readFileSync} from 'node:fs'
import {copyFile} from 'node:fs/promises'

import {writeFileAtomic} from '../../atomic-write.js'

import type {Step} from '../../engine/types.js'
import {kubeconfigOf} from '../../kube/from-config.js'
import {type BootstrapContext, type BootstrapFacts, type BootstrapParams, firstControlPlane} from './facts.js'

const ADMIN_CONF = '/etc/kubernetes/admin.conf'

export function adminKubeconfigPath(ctx: BootstrapContext): string {
  return kubeconfigOf(ctx.config, ctx.stateDir)
}

export const fetchAdminKubeconfig: Step<BootstrapFacts, BootstrapParams> = {
  id: 'admin-kubeconfig',
  title: 'Fetch the admin kubeconfig',
  plan: (ctx) => [`copy ${ADMIN_CONF} from ${firstControlPlane(ctx).name} to ${adminKubeconfigPath(ctx)} (0600)`],
  async run(ctx) {
    const cp = firstControlPlane(ctx)
    const session = await ctx.ssh(cp.name)
    const {stdout} = await session.exec(['cat', ADMIN_CONF], {secretOutput: true, signal: ctx.signal, sudo: true})
    if (!/^kind:\s*Config\s*$/m.test(stdout)) throw new Error(`${cp.name}: ${ADMIN_CONF} is not a kubeconfig`)
    const file = adminKubeconfigPath(ctx)
    const old = existsSync(file) ? readFileSync(file, 'utf8') : undefined
    if (old === stdout) {
      ctx.log(`${file} is up to date`)
      return
    }

    // The old file is copied aside before the new one replaces it: at no moment is there none.
    await ctx.mutate(`write ${file}`, () => writeFileAtomic(file, stdout, {beforeRename: () => (old === undefined ? undefined : copyFile(file, `${file}.bak`)), dirMode: 0o700, mode: 0o600}))
    ctx.log(`admin kubeconfig: ${file}${old === undefined ? '' : ` (the previous one is ${file}.bak)`}`)
  },
}
