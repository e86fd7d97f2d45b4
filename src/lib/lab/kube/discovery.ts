/**
 * The resources the fake server knows and the legacy (unaggregated) discovery documents built from
 * them: `/api`, `/api/v1`, `/apis`, `/apis/<group>`, `/apis/<group>/<version>`. kubectl 1.32 asks for
 * aggregated discovery first (`Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,…,application/json`)
 * and falls back to these when the answer is plain `application/json`. Verbs, short names, kinds and
 * subresources are those of a v1.31 kube-apiserver (`kubectl api-resources`).
 */

export interface ResourceDef {
  /** Field selectors the server accepts on lists; `any` for events, which kubectl describe searches. */
  fieldSelectors: readonly string[] | 'any'
  group: string
  kind: string
  listKind: string
  name: string
  namespaced: boolean
  shortNames?: string[]
  singularName: string
  /** Subresources with their kind and verbs (`status`, `eviction`, `approval`). */
  subresources: Record<string, {group?: string; kind: string; verbs: string[]; version?: string}>
  verbs: string[]
  version: string
}

const ALL = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']
const META = ['metadata.name', 'metadata.namespace']
const STATUS = ['get', 'patch', 'update']

function def(group: string, name: string, kind: string, singularName: string, namespaced: boolean, extra: Partial<ResourceDef> = {}): ResourceDef {
  return {fieldSelectors: META, group, kind, listKind: `${kind}List`, name, namespaced, singularName, subresources: {}, verbs: ALL, version: 'v1', ...extra}
}

export const RESOURCES: readonly ResourceDef[] = [
  def('', 'configmaps', 'ConfigMap', 'configmap', true, {shortNames: ['cm']}),
  def('', 'events', 'Event', 'event', true, {fieldSelectors: 'any', shortNames: ['ev']}),
  def('', 'namespaces', 'Namespace', 'namespace', false, {
    fieldSelectors: ['metadata.name', 'status.phase'],
    shortNames: ['ns'],
    subresources: {finalize: {kind: 'Namespace', verbs: ['update']}, status: {kind: 'Namespace', verbs: STATUS}},
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
  }),
  def('', 'nodes', 'Node', 'node', false, {
    fieldSelectors: ['metadata.name', 'spec.unschedulable'],
    shortNames: ['no'],
    subresources: {proxy: {kind: 'NodeProxyOptions', verbs: ['create', 'delete', 'get', 'patch', 'update']}, status: {kind: 'Node', verbs: STATUS}},
  }),
  def('', 'pods', 'Pod', 'pod', true, {
    fieldSelectors: ['metadata.name', 'metadata.namespace', 'spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.nominatedNodeName'],
    shortNames: ['po'],
    subresources: {
      binding: {kind: 'Binding', verbs: ['create']},
      eviction: {group: 'policy', kind: 'Eviction', verbs: ['create'], version: 'v1'},
      log: {kind: 'Pod', verbs: ['get']},
      status: {kind: 'Pod', verbs: STATUS},
    },
  }),
  def('', 'secrets', 'Secret', 'secret', true, {fieldSelectors: [...META, 'type']}),
  def('', 'serviceaccounts', 'ServiceAccount', 'serviceaccount', true, {shortNames: ['sa'], subresources: {token: {group: 'authentication.k8s.io', kind: 'TokenRequest', verbs: ['create'], version: 'v1'}}}),
  def('', 'services', 'Service', 'service', true, {
    shortNames: ['svc'],
    subresources: {proxy: {kind: 'ServiceProxyOptions', verbs: ['create', 'delete', 'get', 'patch', 'update']}, status: {kind: 'Service', verbs: STATUS}},
  }),
  def('apps', 'daemonsets', 'DaemonSet', 'daemonset', true, {shortNames: ['ds'], subresources: {status: {kind: 'DaemonSet', verbs: STATUS}}}),
  def('apps', 'deployments', 'Deployment', 'deployment', true, {
    shortNames: ['deploy'],
    subresources: {scale: {group: 'autoscaling', kind: 'Scale', verbs: STATUS, version: 'v1'}, status: {kind: 'Deployment', verbs: STATUS}},
  }),
  def('apps', 'replicasets', 'ReplicaSet', 'replicaset', true, {
    shortNames: ['rs'],
    subresources: {scale: {group: 'autoscaling', kind: 'Scale', verbs: STATUS, version: 'v1'}, status: {kind: 'ReplicaSet', verbs: STATUS}},
  }),
  def('policy', 'poddisruptionbudgets', 'PodDisruptionBudget', 'poddisruptionbudget', true, {shortNames: ['pdb'], subresources: {status: {kind: 'PodDisruptionBudget', verbs: STATUS}}}),
  def('certificates.k8s.io', 'certificatesigningrequests', 'CertificateSigningRequest', 'certificatesigningrequest', false, {
    fieldSelectors: ['metadata.name', 'spec.signerName'],
    shortNames: ['csr'],
    subresources: {approval: {kind: 'CertificateSigningRequest', verbs: STATUS}, status: {kind: 'CertificateSigningRequest', verbs: STATUS}},
  }),
  def('coordination.k8s.io', 'leases', 'Lease', 'lease', true),
  def('rbac.authorization.k8s.io', 'clusterrolebindings', 'ClusterRoleBinding', 'clusterrolebinding', false),
  def('rbac.authorization.k8s.io', 'clusterroles', 'ClusterRole', 'clusterrole', false),
  def('rbac.authorization.k8s.io', 'rolebindings', 'RoleBinding', 'rolebinding', true),
  def('rbac.authorization.k8s.io', 'roles', 'Role', 'role', true),
]

/** Resources `kubectl get all` lists (the `all` category). */
const ALL_CATEGORY = new Set(['daemonsets', 'deployments', 'pods', 'replicasets', 'services'])

export function apiVersionOf(r: Pick<ResourceDef, 'group' | 'version'>): string {
  return r.group ? `${r.group}/${r.version}` : r.version
}

export function findResource(group: string, version: string, name: string): ResourceDef | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.name === name)
}

export function resourceForKind(kind: string): ResourceDef | undefined {
  return RESOURCES.find((r) => r.kind === kind)
}

export const GROUPS = [...new Set(RESOURCES.map((r) => r.group).filter((g) => g !== ''))]

export function apiVersions(serverAddress: string): unknown {
  return {kind: 'APIVersions', serverAddressByClientCIDRs: [{clientCIDR: '0.0.0.0/0', serverAddress}], versions: ['v1']}
}

function groupDoc(name: string): unknown {
  const gv = {groupVersion: `${name}/v1`, version: 'v1'}
  return {name, preferredVersion: gv, versions: [gv]}
}

export function apiGroupList(): unknown {
  return {apiVersion: 'v1', groups: GROUPS.map(groupDoc), kind: 'APIGroupList'}
}

export function apiGroup(name: string): unknown {
  return GROUPS.includes(name) ? {apiVersion: 'v1', kind: 'APIGroup', ...(groupDoc(name) as object)} : undefined
}

/** The APIResourceList of a group version, or undefined when the server does not serve it. */
export function apiResourceList(group: string, version: string): unknown {
  const resources = RESOURCES.filter((r) => r.group === group && r.version === version)
  if (resources.length === 0) return undefined
  const list: unknown[] = []
  for (const r of resources) {
    const entry: Record<string, unknown> = {kind: r.kind, name: r.name, namespaced: r.namespaced, singularName: r.singularName, verbs: r.verbs}
    if (r.shortNames) entry.shortNames = r.shortNames
    if (ALL_CATEGORY.has(r.name)) entry.categories = ['all']
    list.push(entry)
    for (const [sub, s] of Object.entries(r.subresources)) {
      const subEntry: Record<string, unknown> = {kind: s.kind, name: `${r.name}/${sub}`, namespaced: r.namespaced, singularName: '', verbs: s.verbs}
      if (s.group !== undefined) subEntry.group = s.group
      if (s.version !== undefined) subEntry.version = s.version
      list.push(subEntry)
    }
  }
  return {apiVersion: 'v1', groupVersion: apiVersionOf({group, version}), kind: 'APIResourceList', resources: list}
}
