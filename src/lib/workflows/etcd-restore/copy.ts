/** Copy the snapshot to the control planes, checked there against the sidecar's SHA-256. */
import {readFile} from 'node:fs/promises'

import type {Step} from '../../engine/types.js'
import type {SshSession} from '../../ssh/types.js'
import {type RestoreFacts, type RestoreParams, snapshotOnNode, targets} from './facts.js'

export const copySnapshot: Step<RestoreFacts, RestoreParams> = {
  concurrency: 3,
  id: 'copy',
  title: 'Copy the snapshot to the control planes',
  targets,
  async check(ctx) {
    const session = await ctx.ssh(ctx.target!)
    return (await sha256On(session, snapshotOnNode(ctx.params.tag), ctx.signal)) === ctx.facts.snapshot.sha256 ? 'the snapshot is there' : false
  },
  plan: (ctx) => [`copy ${ctx.params.file} to ${snapshotOnNode(ctx.params.tag)}`],
  async run(ctx) {
    const session = await ctx.ssh(ctx.target!)
    const remote = snapshotOnNode(ctx.params.tag)
    await ctx.mutate(`copy the snapshot to ${remote}`, async () => {
      await session.upload(remote, await readFile(ctx.params.file), {mode: 0o600, sudo: true})
      const sha = await sha256On(session, remote, ctx.signal)
      if (sha !== ctx.facts.snapshot.sha256) throw new Error(`the copy on ${ctx.target!} has SHA-256 ${sha ?? '(none)'}, not ${ctx.facts.snapshot.sha256}: the transfer was damaged; kp resume copies it again`)
    })
  },
}

async function sha256On(session: SshSession, file: string, signal: AbortSignal): Promise<string | undefined> {
  const {code, stdout} = await session.exec(['sha256sum', file], {allowFailure: true, idempotent: true, signal, sudo: true})
  return code === 0 ? stdout.split(/\s/)[0] : undefined
}
