/** What "started" means after a restore: every member healthy in the restored membership, then the API answering. */
import {parseMemberList} from '../../etcd/parse.js'
import {etcdctl, type RestoreUnit, waitFor} from './facts.js'

/** The local member answers and the member list is exactly the restored one, every member started. */
export async function restoredEtcdHealthy(ctx: RestoreUnit): Promise<void> {
  const session = await ctx.ssh(ctx.target!)
  const want = ctx.facts.members.map((m) => `${m.name} ${m.peerUrl}`).sort()
  let seen = 'nothing yet'
  await waitFor(ctx, `the restored etcd members (${want.join(', ')}) healthy, seen from ${ctx.target!}`, async () => {
    try {
      await etcdctl(session, ['endpoint', 'health'], ctx.signal, {idempotent: true, timeoutMs: 15_000})
      const members = parseMemberList(await etcdctl(session, ['member', 'list', '-w', 'json'], ctx.signal, {idempotent: true, timeoutMs: 15_000}))
      const have = members.map((m) => `${m.name || '(not started)'} ${m.peerUrls.join(',')}`).sort()
      seen = have.join(', ')
      return JSON.stringify(have) === JSON.stringify(want)
    } catch (error) {
      seen = error instanceof Error ? error.message : String(error)
      return false
    }
  }).catch((error: unknown) => {
    throw new Error(`${error instanceof Error ? error.message : String(error)}; last seen: ${seen}`)
  })
}
