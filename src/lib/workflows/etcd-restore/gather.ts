/** Gather facts: the snapshot's sidecar, and each control plane's etcd member from its manifest. */
import {existsSync} from 'node:fs'
import path from 'node:path'

import {controlPlanes} from '../../config/nodes.js'
import type {Step} from '../../engine/types.js'
import {readSidecar, sidecarFileOf} from '../../etcd/backups.js'
import {RefusedError, UsageError} from '../../errors.js'
import {MANIFESTS, parkedDir, type RestoreFacts, type RestoreParams, runningContainers, test} from './facts.js'

export const gatherFacts: Step<RestoreFacts, RestoreParams> = {
  gathersFacts: true,
  id: 'gather-facts',
  title: 'Gather facts',
  async run(ctx) {
    const cluster = ctx.config.config.cluster.name
    const {file} = ctx.params
    if (!existsSync(file)) throw new UsageError(`${file} does not exist`, {hint: '"kp backup list" shows the backups kp wrote'})
    const sidecar = readSidecar(file)
    if (!sidecar) {
      throw new UsageError(`${file} has no sidecar kp wrote (${path.basename(sidecarFileOf(file))}): kp restores only its own backups, whose SHA-256 it can check`, {
        hint: '"kp backup list" shows them; restore another snapshot by hand with runbooks/etcd-restore.md',
      })
    }

    if (sidecar.cluster !== cluster) throw new RefusedError(`${file} is a snapshot of cluster "${sidecar.cluster}", not of "${cluster}"; nothing was changed`)
    ctx.facts.snapshot = {cluster, node: sidecar.node, revision: sidecar.revision, sha256: sidecar.sha256, size: sidecar.size}
    ctx.facts.members = []
    const idle: string[] = []
    let started = false
    for (const node of controlPlanes(ctx.config.config)) {
      const session = await ctx.ssh(node.name)
      // On a resume the manifest may already be parked by this restore.
      const {stdout} = await session.exec(['sh', '-c', 'cat "$1" 2>/dev/null || cat "$2"', 'sh', `${MANIFESTS}/etcd.yaml`, `${parkedDir(ctx.params.tag)}/etcd.yaml`], {
        allowFailure: true,
        idempotent: true,
        signal: ctx.signal,
        sudo: true,
      })
      const name = flag(stdout, 'name')
      const peerUrl = flag(stdout, 'initial-advertise-peer-urls')
      if (!name || !peerUrl) {
        throw new RefusedError(`${node.name} has no etcd manifest naming its member (${MANIFESTS}/etcd.yaml with --name and --initial-advertise-peer-urls); nothing was changed`, {
          hint: 'kp restores the stacked etcd of a kubeadm cluster; an external etcd is restored with its own tools',
        })
      }

      ctx.facts.members.push({name, node: node.name, peerUrl})
      // The restore runs in each node's etcd container before anything stops: every one must run, or nothing is touched.
      // A resumed run that has already stopped something (its parked folder exists) expects stopped containers.
      if (await test(session, ['test', '-d', parkedDir(ctx.params.tag)], ctx.signal)) started = true
      else if ((await runningContainers(session, '^etcd$', ctx.signal)).length === 0) idle.push(node.name)
    }

    if (idle.length > 0 && !started) {
      throw new RefusedError(`no etcd container runs on ${idle.join(', ')}: kp restores with the etcdctl of each running etcd container; nothing was changed`, {
        hint: 'start those members first (sudo crictl ps -a --name etcd; their log), or restore by hand as runbooks/etcd-restore.md says',
      })
    }
  },
}

/** `--name=cp1` from a manifest's command list (`- --name=cp1`). */
function flag(manifest: string, name: string): string | undefined {
  return new RegExp(`--${name}=(\\S+)`).exec(manifest)?.[1]?.replace(/["']/g, '')
}

