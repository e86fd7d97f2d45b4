/**
 * The fake API server's store: every object under a sortable key (`group|resource|namespace|name`,
 * the order etcd lists them in), one resourceVersion counter for the whole store, and the static pods
 * the simulated kubelets mirror. Written atomically (temporary file, then rename) after every request
 * and controller tick that changed something, when a state file is given, so a restarted server finds everything as it was.
 *
 * With a real etcd behind it (`attachEtcd`) the map is the apiserver's cache: reads stay synchronous,
 * and the keys each request or tick changed are sealed into a batch that `commit()` sends to etcd, one
 * batch at a time in order. A batch etcd refuses is undone in memory (with every batch sealed after it,
 * which was built on it), and its watch events are only sent once etcd holds the change. The state file
 * then keeps only the static pods (node-local, as a kubelet's manifest folder) and the counter.
 */
import {EventEmitter} from 'node:events'
import {readFileSync} from 'node:fs'

import {writeFileAtomicSync} from '../../atomic-write.js'

import type {ResourceDef} from './discovery.js'
import {EtcdClient, EtcdError, etcdKey, type EtcdWrite} from './etcd-store.js'
import type {KubeObject, Pod} from './types.js'

/** A static pod a node's kubelet runs from its manifest folder; the server keeps its mirror pod. */
export interface StaticPod {
  node: string
  /** The manifest as the kubelet reads it (metadata.name without the node suffix). */
  pod: Pod
}

export interface KubeState {
  objects: Record<string, KubeObject>
  resourceVersion: number
  staticPods: StaticPod[]
  version: 1
}

/** A change as a watch sends it, kept in a short history so watches can resume from a resourceVersion. */
export interface WatchEvent {
  key: string
  object: KubeObject
  resourceVersion: number
  type: 'ADDED' | 'DELETED' | 'MODIFIED'
}

/** How many changes the store remembers for watches that start from an older resourceVersion. */
const HISTORY = 2000

/** The changes of one request or tick on their way to etcd. */
interface Batch {
  /** Each changed key's object before the batch (undefined: it did not exist). */
  before: Map<string, KubeObject | undefined>
  events: WatchEvent[]
  /** Set when an earlier batch failed and this one was undone with it. */
  failed?: Error
  writes: Array<EtcdWrite & {storeKey: string}>
}

export function objectKey(def: Pick<ResourceDef, 'group' | 'name'>, namespace: string | undefined, name: string): string {
  return `${def.group}|${def.name}|${namespace ?? ''}|${name}`
}

export class ObjectStore {
  /** Emits `change` with each WatchEvent. */
  readonly events = new EventEmitter()
  readonly file?: string
  /** Recent changes, oldest first. */
  readonly history: WatchEvent[] = []
  state: KubeState
  private dirty = false
  private muted = false
  private etcd?: EtcdClient
  /** Changes not yet sealed into a batch: key → the object before them. */
  private pending = new Map<string, KubeObject | undefined>()
  private pendingEvents: WatchEvent[] = []
  /** Sealed batches not yet settled, oldest first. */
  private readonly queue: Batch[] = []
  private chain: Promise<void> = Promise.resolve()
  /**
   * A commit failed: etcd may still apply it (a leader that lost its quorum keeps the entry), so the
   * cache is re-read from etcd once it answers again.
   */
  stale = false
  /** A load from etcd is under way: the controllers wait. */
  loading = false

  private constructor(state: KubeState, file?: string) {
    this.state = state
    this.file = file
  }

  static open(file?: string): ObjectStore {
    let state: KubeState = {objects: {}, resourceVersion: 1000, staticPods: [], version: 1}
    if (file) {
      try {
        state = JSON.parse(readFileSync(file, 'utf8')) as KubeState
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
      }
    }
    return new ObjectStore(state, file)
  }

  /** Keep the objects in etcd from now on (before `load()`): the state file holds only the static pods. */
  attachEtcd(client: EtcdClient): void {
    this.etcd = client
  }

  get etcdClient(): EtcdClient | undefined {
    return this.etcd
  }

  /** Batches on their way to etcd. */
  get busy(): boolean {
    return this.queue.length > 0
  }

  get<T extends KubeObject = KubeObject>(def: ResourceDef, namespace: string | undefined, name: string): T | undefined {
    const found = this.state.objects[objectKey(def, def.namespaced ? namespace : undefined, name)]
    return found ? (structuredClone(found) as T) : undefined
  }

  /** Copies of the objects of a resource in key order, in one namespace or all. */
  list<T extends KubeObject = KubeObject>(def: ResourceDef, namespace?: string): Array<{key: string; object: T}> {
    const prefix = def.namespaced && namespace ? objectKey(def, namespace, '') : `${def.group}|${def.name}|`
    return Object.keys(this.state.objects)
      .filter((k) => k.startsWith(prefix))
      .sort()
      .map((key) => ({key, object: structuredClone(this.state.objects[key]) as T}))
  }

  /** Store an object with the next resourceVersion; returns the stored copy. */
  put<T extends KubeObject>(def: ResourceDef, object: T): T {
    this.state.resourceVersion++
    const stored = structuredClone(object)
    stored.metadata.resourceVersion = String(this.state.resourceVersion)
    const key = objectKey(def, def.namespaced ? object.metadata.namespace : undefined, object.metadata.name)
    const type = key in this.state.objects ? 'MODIFIED' : 'ADDED'
    this.track(key)
    this.state.objects[key] = stored
    this.changed({key, object: stored, resourceVersion: this.state.resourceVersion, type})
    return structuredClone(stored)
  }

  remove(def: ResourceDef, namespace: string | undefined, name: string): void {
    const key = objectKey(def, def.namespaced ? namespace : undefined, name)
    const old = this.state.objects[key]
    if (!old) return
    this.state.resourceVersion++
    this.track(key)
    delete this.state.objects[key]
    const object = {...old, metadata: {...old.metadata, resourceVersion: String(this.state.resourceVersion)}}
    this.changed({key, object, resourceVersion: this.state.resourceVersion, type: 'DELETED'})
  }

  /**
   * Run `fn` as a server-side dry run (`?dryRun=All`): it sees and makes changes as usual, then the
   * store is put back as it was; watchers and the state file never see them.
   */
  dryRun<T>(fn: () => T): T {
    const saved = structuredClone({objects: this.state.objects, resourceVersion: this.state.resourceVersion})
    const wasDirty = this.dirty
    this.muted = true
    try {
      return fn()
    } finally {
      this.state.objects = saved.objects
      this.state.resourceVersion = saved.resourceVersion
      this.dirty = wasDirty
      this.muted = false
    }
  }

  private track(key: string): void {
    if (this.etcd && !this.muted && !this.pending.has(key)) this.pending.set(key, this.state.objects[key])
  }

  private changed(event: WatchEvent): void {
    if (this.muted) return
    this.dirty = true
    if (this.etcd) this.pendingEvents.push(event)
    else this.emit(event)
  }

  private emit(event: WatchEvent): void {
    this.history.push(event)
    if (this.history.length > HISTORY) this.history.splice(0, this.history.length - HISTORY)
    this.events.emit('change', event)
  }

  /** Write the state if anything changed since the last flush (after each request and controller tick). */
  flush(): void {
    if (this.dirty) this.save()
  }

  get resourceVersion(): string {
    return String(this.state.resourceVersion)
  }

  save(): void {
    this.dirty = false
    if (!this.file) return
    const state = this.etcd ? {...this.state, objects: {}} : this.state
    writeFileAtomicSync(this.file, `${JSON.stringify(state)}\n`, {dirMode: 0o777, flush: false, mode: 0o600})
  }

  /**
   * Seal the changes made since the last call into a batch and resolve once etcd holds it (at once
   * without etcd, or with nothing changed). Rejects with the EtcdError after undoing the batch.
   */
  commit(): Promise<void> {
    if (!this.etcd || this.pending.size === 0) {
      this.pendingEvents = []
      return Promise.resolve()
    }
    const batch: Batch = {before: this.pending, events: this.pendingEvents, writes: []}
    for (const storeKey of this.pending.keys()) {
      const object = this.state.objects[storeKey]
      const [, resource = '', namespace, name = ''] = storeKey.split('|')
      batch.writes.push({key: etcdKey({name: resource}, namespace || undefined, name), storeKey, value: object ? JSON.stringify(object) : undefined})
    }
    this.pending = new Map()
    this.pendingEvents = []
    this.queue.push(batch)
    const sent = this.chain.then(() => this.send(batch))
    this.chain = sent.catch(() => undefined)
    return sent
  }

  /** Every batch sealed so far has settled (whether etcd took it or not). */
  async settled(): Promise<void> {
    await this.commit().catch(() => undefined)
    await this.chain
  }

  private async send(batch: Batch): Promise<void> {
    try {
      if (batch.failed) throw batch.failed
      let committed = 0
      try {
        await this.etcd!.commit(batch.writes, (count) => (committed += count))
      } catch (error) {
        this.stale = true
        this.undo(batch, committed, error as Error)
        throw error
      }
      for (const event of batch.events) this.emit(event)
    } finally {
      this.queue.splice(this.queue.indexOf(batch), 1)
    }
  }

  /**
   * Put back the keys etcd did not take, after undoing every later batch (newest first: each was
   * built on the one before). Watchers see only what etcd holds.
   */
  private undo(batch: Batch, committed: number, error: Error): void {
    const later = this.queue.slice(this.queue.indexOf(batch) + 1)
    // Unsealed changes were built on the failed batch too.
    const restore = (before: Map<string, KubeObject | undefined>, keys?: Set<string>) => {
      for (const [key, object] of before) {
        if (keys && !keys.has(key)) continue
        if (object) this.state.objects[key] = object
        else delete this.state.objects[key]
      }
    }
    restore(this.pending)
    this.pending = new Map()
    this.pendingEvents = []
    for (const next of later.reverse()) {
      restore(next.before)
      next.failed ??= error
    }
    const lost = new Set(batch.writes.slice(committed).map((w) => w.storeKey))
    restore(batch.before, lost)
    for (const event of batch.events) if (!lost.has(event.key)) this.emit(event)
  }

  /**
   * Replace every object with what etcd holds (start-up, `kube.reload()` after a restore, or after a
   * failed commit): after the batches on their way, the counter above every loaded resourceVersion and
   * the etcd revision, the watch history cleared and open watches ended (`reset`) so clients list again.
   */
  async load(): Promise<{objects: number; revision: number}> {
    const etcd = this.etcd
    if (!etcd) throw new Error('this store keeps its objects in its state file, not in etcd')
    this.loading = true
    try {
      // A request may change the cache while etcd is read; its change is then in etcd, so read again.
      for (let attempt = 1; ; attempt++) {
        await this.settled()
        const loaded = await etcd.loadAll()
        if (this.queue.length > 0 || this.pending.size > 0) {
          if (attempt < 5) continue
          throw new EtcdError('the objects kept changing while they were read from etcd; reload again')
        }
        this.replace(loaded.objects, loaded.revision)
        return {objects: loaded.objects.length, revision: loaded.revision}
      }
    } finally {
      this.loading = false
    }
  }

  private replace(loaded: Array<{def: ResourceDef; name: string; namespace?: string; object: KubeObject}>, revision: number): void {
    const objects: Record<string, KubeObject> = {}
    let max = Math.max(this.state.resourceVersion, revision)
    for (const {def, name, namespace, object} of loaded) {
      objects[objectKey(def, namespace, name)] = object
      max = Math.max(max, Number(object.metadata?.resourceVersion) || 0)
    }
    this.state.objects = objects
    this.state.resourceVersion = max
    this.stale = false
    this.history.splice(0)
    this.events.emit('reset')
    this.dirty = true
  }
}
