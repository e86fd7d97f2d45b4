/**
 * Watches (`GET …?watch=true`): a stream of `{"type":"ADDED|MODIFIED|DELETED","object":{…}}` lines.
 * Without a resourceVersion (or with "0") the current objects come first as ADDED; with one, the
 * changes after it are replayed from the store's short history, or an ERROR event with a 410
 * `too old resource version` Status tells the client to list again, as the real server does.
 * kubectl's `delete` (waiting for the object to go) and `get -w` use this.
 */
import type {IncomingMessage, ServerResponse} from 'node:http'

import type {ResourceDef} from './discovery.js'
import {matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector} from './selectors.js'
import type {ObjectStore, WatchEvent} from './state.js'
import {KubeError} from './status.js'
import type {KubeObject} from './types.js'

/** `asTable` turns each object into a one-row Table when kubectl asked for Tables (`get -w`). */
export function serveWatch(req: IncomingMessage, res: ServerResponse, store: ObjectStore, def: ResourceDef, namespace: string | undefined, query: URLSearchParams, asTable?: (object: KubeObject) => unknown): void {
  const labels = parseLabelSelector(query.get('labelSelector') ?? '')
  const fields = parseFieldSelector(query.get('fieldSelector') ?? '', def.fieldSelectors)
  const prefix = def.namespaced && namespace ? `${def.group}|${def.name}|${namespace}|` : `${def.group}|${def.name}|`
  const wanted = (key: string, object: KubeObject) => key.startsWith(prefix) && matchesLabels(labels, object.metadata.labels) && matchesFields(fields, object)
  const send = (type: string, object: unknown) => res.write(`${JSON.stringify({object: asTable && type !== 'ERROR' ? asTable(object as KubeObject) : object, type})}\n`)

  res.statusCode = 200
  res.setHeader('Content-Type', 'application/json')
  res.setHeader('Cache-Control', 'no-cache, private')
  // The real server answers at once; client-go waits for the headers before it can stop a watch,
  // so a quiet watch would otherwise hold kubectl (rollout status) until the first event.
  res.flushHeaders()
  const from = query.get('resourceVersion')
  const current = store.state.resourceVersion
  if (!from || from === '0') {
    for (const {key, object} of store.list(def, namespace)) if (wanted(key, object)) send('ADDED', object)
  } else {
    const since = Number(from)
    const oldest = store.history[0]?.resourceVersion
    if (!Number.isFinite(since) || (since < current && (oldest === undefined || oldest > since + 1))) {
      send('ERROR', new KubeError(410, 'Expired', `too old resource version: ${from} (${current})`).toStatus())
      res.end()
      return
    }
    for (const event of store.history) if (event.resourceVersion > since && wanted(event.key, event.object)) send(event.type, event.object)
  }
  const listener = (event: WatchEvent) => {
    if (wanted(event.key, event.object)) send(event.type, event.object)
  }
  // The store was re-read from etcd (a restore): the client lists again, as after an apiserver restart.
  const reset = () => res.end()
  store.events.on('change', listener)
  store.events.once('reset', reset)
  const timeout = setTimeout(() => res.end(), Number(query.get('timeoutSeconds') ?? 1800) * 1000)
  timeout.unref()
  const stop = () => {
    clearTimeout(timeout)
    store.events.off('change', listener)
    store.events.off('reset', reset)
  }
  req.on('close', stop)
  res.on('close', stop)
}
