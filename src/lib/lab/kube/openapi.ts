/**
 * Just enough OpenAPI v3 for kubectl apply. Before it sends an object, kubectl asks the server's
 * OpenAPI whether the resource's PATCH takes the `fieldValidation` query parameter
 * (cli-runtime's queryParamVerifierV3); when it does, kubectl leaves validation to the server
 * (`fieldValidation=Strict`), and when there is no OpenAPI at all it refuses to apply without
 * `--validate=false`. So `/openapi/v3` lists the group versions and each document holds, per resource,
 * the PATCH operation with its `x-kubernetes-group-version-kind` and query parameters, and no schemas
 * (`kubectl explain` finds nothing).
 */
import {createHash} from 'node:crypto'

import {apiVersionOf, RESOURCES, type ResourceDef} from './discovery.js'

const PATCH_PARAMETERS = ['dryRun', 'fieldManager', 'fieldValidation', 'force', 'pretty'].map((name) => ({in: 'query', name, schema: {type: name === 'force' ? 'boolean' : 'string'}, uniqueItems: true}))

/** `api/v1`, `apis/apps/v1`: the keys of the index, and the documents' paths under /openapi/v3/. */
function groupVersionKey(r: Pick<ResourceDef, 'group' | 'version'>): string {
  return r.group ? `apis/${r.group}/${r.version}` : `api/${r.version}`
}

function document(key: string, gitVersion: string): Record<string, unknown> | undefined {
  const resources = RESOURCES.filter((r) => groupVersionKey(r) === key)
  if (resources.length === 0) return undefined
  const paths: Record<string, unknown> = {}
  for (const r of resources) {
    if (!r.verbs.includes('patch')) continue
    const item = r.namespaced ? `/${key}/namespaces/{namespace}/${r.name}/{name}` : `/${key}/${r.name}/{name}`
    const [group, version] = apiVersionOf(r).includes('/') ? apiVersionOf(r).split('/') : ['', r.version]
    paths[item] = {
      parameters: [{in: 'path', name: 'name', required: true, schema: {type: 'string'}}, ...(r.namespaced ? [{in: 'path', name: 'namespace', required: true, schema: {type: 'string'}}] : [])],
      patch: {
        operationId: `patch${r.namespaced ? 'Namespaced' : ''}${r.kind}`,
        parameters: PATCH_PARAMETERS,
        responses: {200: {description: 'OK'}, 201: {description: 'Created'}},
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': {group, kind: r.kind, version},
      },
    }
  }
  return {info: {title: 'Kubernetes', version: gitVersion}, openapi: '3.0.0', paths}
}

/** The answer to GET /openapi/v3 or /openapi/v3/<group version>, or undefined (404). */
export function openApiV3(pathname: string, gitVersion: string): unknown {
  const keys = [...new Set(RESOURCES.map(groupVersionKey))]
  if (pathname === '/openapi/v3' || pathname === '/openapi/v3/') {
    const paths: Record<string, unknown> = {}
    for (const key of keys) {
      const hash = createHash('sha512').update(JSON.stringify(document(key, gitVersion))).digest('hex').toUpperCase().slice(0, 128)
      paths[key] = {serverRelativeURL: `/openapi/v3/${key}?hash=${hash}`}
    }
    return {paths}
  }
  const key = pathname.replace(/^\/openapi\/v3\//, '')
  return pathname.startsWith('/openapi/v3/') ? document(key, gitVersion) : undefined
}
