/**
 * The store's batches on their way to etcd, with a stand-in for the etcd client: a refused batch is
 * undone together with the batches sealed after it (built on it), watch events go out only for what
 * etcd holds, and a batch cut part way keeps exactly the keys etcd took.
 */
import {describe, expect, it} from 'vitest'

import {RESOURCES} from '../../../src/lib/lab/kube/index.js'
import {EtcdError, type EtcdClient, type EtcdWrite} from '../../../src/lib/lab/kube/etcd-store.js'
import {ObjectStore, type WatchEvent} from '../../../src/lib/lab/kube/state.js'

const CONFIGMAPS = RESOURCES.find((r) => r.name === 'configmaps')!
const cm = (name: string, value: string) => ({apiVersion: 'v1', data: {value}, kind: 'ConfigMap', metadata: {name, namespace: 'default'}})

/** Holds each commit until `release(n, {fail?, take?})`: `take` writes are reported done before failing. */
function standIn() {
  const calls: Array<{done: (count: number) => void; reject: (error: Error) => void; resolve: () => void; writes: readonly EtcdWrite[]}> = []
  const client = {
    commit: (writes: readonly EtcdWrite[], done: (count: number) => void) => new Promise<void>((resolve, reject) => calls.push({done, reject, resolve, writes})),
  } as unknown as EtcdClient
  const release = async (index: number, outcome: {fail?: string; take?: number} = {}) => {
    await until(() => calls.length > index)
    const call = calls[index]!
    if (outcome.take) call.done(outcome.take)
    if (outcome.fail) call.reject(new EtcdError(outcome.fail))
    else call.resolve()
  }
  return {calls, client, release}
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5))
  if (!check()) throw new Error('timed out')
}

describe('the store with etcd behind it', () => {
  it('undoes a refused batch and every batch sealed after it; watchers never see them', async () => {
    // Given a committed ConfigMap
    const {calls, client, release} = standIn()
    const store = ObjectStore.open()
    store.attachEtcd(client)
    const events: WatchEvent[] = []
    store.events.on('change', (e: WatchEvent) => events.push(e))
    store.put(CONFIGMAPS, cm('a', '1'))
    const first = store.commit()
    await release(0)
    await first
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED a'])

    // When one request changes it and another builds on that before etcd answered the first
    store.put(CONFIGMAPS, cm('a', '2'))
    const second = store.commit()
    store.put(CONFIGMAPS, cm('a', '3'))
    store.put(CONFIGMAPS, cm('b', '1'))
    const third = store.commit()
    await release(1, {fail: 'etcdserver: request timed out'})

    // Then both are refused with etcd's error and the store is as etcd holds it
    await expect(second).rejects.toThrow('etcdserver: request timed out')
    await expect(third).rejects.toThrow('etcdserver: request timed out')
    expect(calls.length).toBe(2)
    expect(store.get(CONFIGMAPS, 'default', 'a')).toMatchObject({data: {value: '1'}})
    expect(store.get(CONFIGMAPS, 'default', 'b')).toBeUndefined()
    expect(events.length).toBe(1)
    expect(store.stale).toBe(true)
  })

  it('keeps the keys of the transactions etcd took when a large batch is cut part way', async () => {
    const {calls, client, release} = standIn()
    const store = ObjectStore.open()
    store.attachEtcd(client)
    const events: WatchEvent[] = []
    store.events.on('change', (e: WatchEvent) => events.push(e))
    store.put(CONFIGMAPS, cm('x', '1'))
    store.put(CONFIGMAPS, cm('y', '1'))
    const batch = store.commit()
    await release(0, {fail: 'context deadline exceeded', take: 1})
    await expect(batch).rejects.toThrow('context deadline exceeded')
    expect(calls[0]!.writes.map((w) => w.key)).toEqual(['/registry/configmaps/default/x', '/registry/configmaps/default/y'])
    expect(store.get(CONFIGMAPS, 'default', 'x')).toBeDefined()
    expect(store.get(CONFIGMAPS, 'default', 'y')).toBeUndefined()
    expect(events.map((e) => e.object.metadata.name)).toEqual(['x'])
  })
})
