/**
 * The fake API server's "etcd": every object under a sortable key (`group|resource|namespace|name`,
 * the order etcd lists them in), one resourceVersion counter for the whole store, and the static pods
 * the simulated kubelets mirror. Written atomically (temporary file, then rename) after every request
 * and controller tick that changed something, when a state file is given, so a restarted server finds everything as it was.
 */
import {EventEmitter} from 'node:events'
import {readFileSync} from 'node:fs'

import {writeFileAtomicSync} from '../../atomic-write.js'

import type {ResourceDef} from './discovery.js'
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
    this.state.objects[key] = stored
    this.changed({key, object: stored, resourceVersion: this.state.resourceVersion, type})
    return structuredClone(stored)
  }

  remove(def: ResourceDef, namespace: string | undefined, name: string): void {
    const key = objectKey(def, def.namespaced ? namespace : undefined, name)
    const old = this.state.objects[key]
    if (!old) return
    this.state.resourceVersion++
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

  private changed(event: WatchEvent): void {
    if (this.muted) return
    this.dirty = true
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
    writeFileAtomicSync(this.file, `${JSON.stringify(this.state)}\n`, {dirMode: 0o777, flush: false, mode: 0o600})
  }
}
