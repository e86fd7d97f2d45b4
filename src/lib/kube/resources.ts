/**
 * Kind → resource, the way kubectl's RESTMapper finds it: the APIResourceList of the object's group
 * version (`/api/v1`, `/apis/apps/v1`, `/apis/crd.projectcalico.org/v1`) names the plural and whether
 * it is namespaced, so any served kind works, CRDs included. Lists are cached per connection; a kind
 * missing from a cached list is looked up once more, since a manifest may create the CRD just before
 * its first custom resource.
 */
export interface ResourceInfo {
  namespaced: boolean
  plural: string
}

export interface ApiResourceList {
  resources?: Array<{kind: string; name: string; namespaced: boolean}>
}

/** `/api/v1` or `/apis/<group>/<version>`. */
export function groupVersionPath(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`
}

export function objectPath(apiVersion: string, info: ResourceInfo, namespace: string | undefined, name: string): string {
  const scope = info.namespaced ? `/namespaces/${encodeURIComponent(namespace ?? 'default')}` : ''
  return `${groupVersionPath(apiVersion)}${scope}/${info.plural}/${encodeURIComponent(name)}`
}

export class ResourceResolver {
  private readonly lists = new Map<string, Promise<ApiResourceList | undefined>>()

  /** `fetchList` answers undefined when the server does not serve the group version (404). */
  constructor(private readonly fetchList: (apiVersion: string) => Promise<ApiResourceList | undefined>) {}

  async resolve(apiVersion: string, kind: string): Promise<ResourceInfo | undefined> {
    const cached = this.lists.has(apiVersion)
    const found = find(await this.list(apiVersion), kind)
    if (found || !cached) return found
    this.lists.delete(apiVersion)
    return find(await this.list(apiVersion), kind)
  }

  private list(apiVersion: string): Promise<ApiResourceList | undefined> {
    let pending = this.lists.get(apiVersion)
    if (!pending) {
      pending = this.fetchList(apiVersion)
      // A failed lookup is not remembered: the next call asks again.
      void pending.catch(() => this.lists.delete(apiVersion))
      this.lists.set(apiVersion, pending)
    }
    return pending
  }
}

function find(list: ApiResourceList | undefined, kind: string): ResourceInfo | undefined {
  // Subresources (`pods/status`) share their parent's kind; the resource itself has no slash.
  const entry = list?.resources?.find((r) => r.kind === kind && !r.name.includes('/'))
  return entry ? {namespaced: entry.namespaced, plural: entry.name} : undefined
}
