/** Verify the cluster: the API answers from the restored data; then the copies go (the old data stays). */
import type {Step} from '../../engine/types.js'
import {parseEndpointStatus} from '../../etcd/parse.js'
import {StepFailedError} from '../../errors.js'
import {etcdctl, parkedDir, restoredDir, type RestoreFacts, type RestoreParams, snapshotOnNode, waitFor} from './facts.js'

export const verifyCluster: Step<RestoreFacts, RestoreParams> = {
  id: 'verify-cluster',
  title: 'Verify the cluster',
  plan: () => ['wait for /readyz at the endpoint, compare the etcd revision with the snapshot, remove the copies of the snapshot'],
  async run(ctx) {
    if (ctx.dryRun) return
    let last = ''
    await waitFor(ctx, 'the API server answering /readyz at the endpoint', async () => {
      try {
        const answer = await (await ctx.kube()).health('/readyz', {verbose: true})
        last = `${answer.status}: ${answer.body.split('\n').filter((l) => l.startsWith('[-]')).join(' ') || answer.body.trim().split('\n').pop()}`
        return answer.status === 200
      } catch (error) {
        last = error instanceof Error ? error.message : String(error)
        return false
      }
    }).catch(() => {
      throw new StepFailedError(`the API server does not answer /readyz after the restore (last: ${last})`, {hint: 'look at the kube-apiserver and etcd containers on the control planes (sudo crictl ps -a), then kp resume'})
    })

    const first = ctx.facts.members[0]!
    const session = await ctx.ssh(first.node)
    const {revision} = parseEndpointStatus(await etcdctl(session, ['endpoint', 'status', '-w', 'json'], ctx.signal, {idempotent: true}))
    const wanted = ctx.facts.snapshot.revision
    if (wanted !== undefined && revision < wanted) throw new StepFailedError(`etcd on ${first.node} is at revision ${revision}, below the snapshot's ${wanted}: it is not the restored data`)
    ctx.log(`etcd revision ${revision} (snapshot ${wanted ?? 'unknown'})`)

    for (const member of ctx.facts.members) {
      const s = await ctx.ssh(member.node)
      await s.exec(['rm', '-f', snapshotOnNode(ctx.params.tag)], {signal: ctx.signal, sudo: true})
      // Emptied by the swap: its member directory is the live one now.
      await s.exec(['rmdir', restoredDir(ctx.params.tag)], {allowFailure: true, signal: ctx.signal, sudo: true})
      await s.exec(['rmdir', '--ignore-fail-on-non-empty', parkedDir(ctx.params.tag)], {allowFailure: true, signal: ctx.signal, sudo: true})
    }
  },
}
