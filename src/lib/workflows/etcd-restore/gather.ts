/** Gather facts: the snapshot's sidecar, and each control plane's etcd member from its manifest. */
import {readFile} from 'node:fs/promises'

import {controlPlanes} from '../../config/nodes.js'
import type {Step} from '../../engine/types.js'
import {RefusedError, UsageError} from '../../errors.js'
import {MANIFESTS, parkedDir, type RestoreFacts, type RestoreParams} from './facts.js'

interface Sidecar {cluster?: unknown; node?: unknown; revision?: unknown; sha256?: unknown; size?: unknown}

export const gatherFacts: Step<RestoreFacts, RestoreParams> = {
  gathersFacts: true,
  id: 'gather-facts',
  title: 'Gather facts',
  async run(ctx) {
    const cluster = ctx.config.config.cluster.name
    const sidecar = await readSidecar(`${ctx.params.file}.json`)
    if (sidecar.cluster !== cluster) {
      throw new RefusedError(`${ctx.params.file} is a snapshot of cluster "${String(sidecar.cluster)}", not of "${cluster}"; nothing was changed`)
    }

    ctx.facts.snapshot = {
      cluster,
      node: typeof sidecar.node === 'string' ? sidecar.node : '',
      revision: typeof sidecar.revision === 'number' ? sidecar.revision : undefined,
      sha256: String(sidecar.sha256),
      size: Number(sidecar.size ?? 0),
    }
    ctx.facts.members = []
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
    }
  },
}

async function readSidecar(file: string): Promise<Sidecar> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UsageError(`${file} does not exist: kp restores only snapshots it wrote, with their sidecar`, {hint: 'kp backup list shows them'})
    }

    throw error
  }

  try {
    const parsed = JSON.parse(text) as Sidecar
    if (typeof parsed.sha256 !== 'string' || !/^[\da-f]{64}$/.test(parsed.sha256)) throw new Error('no sha256')
    return parsed
  } catch {
    throw new UsageError(`${file} is not a kp backup sidecar (JSON with the snapshot's sha256)`, {hint: 'kp backup list shows the snapshots kp wrote'})
  }
}

/** `--name=cp1` from a manifest's command list (`- --name=cp1`). */
function flag(manifest: string, name: string): string | undefined {
  return new RegExp(`--${name}=(\\S+)`).exec(manifest)?.[1]?.replace(/["']/g, '')
}
