/**
 * The API objects `kubeadm init` creates in a new cluster, in the lab's API server: the
 * kubeadm-config and kubelet-config ConfigMaps (upload-config), the bootstrap token Secret and the
 * cluster-info ConfigMap with its JWS signature (bootstrap-token), the RBAC kubeadm sets up for
 * joining nodes, and the CoreDNS and kube-proxy addons. Resources the lab API server does not serve
 * are skipped. A bootstrap token's secret half never goes into the API server's state (a lab file):
 * the Secret carries the token id, expiry and usages, not `token-secret`.
 */
import {createHmac} from 'node:crypto'

import {stringify} from 'yaml'

import {type Cluster, DAEMONSETS, DEPLOYMENTS} from '../kube/cluster.js'
import {findResource} from '../kube/discovery.js'
import {KubeError} from '../kube/status.js'
import type {KubeObject} from '../kube/types.js'
import type {StoredToken} from './state.js'

const rbac = (plural: string) => findResource('rbac.authorization.k8s.io', 'v1', plural)
const core = (plural: string) => findResource('', 'v1', plural)

/**
 * Create or replace an object when the lab API server serves its resource. One the server refuses
 * is left out rather than failing the init: the lab's server validates every name as a DNS
 * subdomain, where the real one lets RBAC objects have colons (`kubeadm:get-nodes`).
 */
function put(cluster: Cluster, group: string, plural: string, namespace: string | undefined, object: Record<string, unknown>): void {
  const d = group === 'rbac.authorization.k8s.io' ? rbac(plural) : group === 'apps' ? (plural === 'deployments' ? DEPLOYMENTS : DAEMONSETS) : core(plural)
  if (!d) return
  const name = (object.metadata as {name: string}).name
  if (cluster.find(d, namespace, name)) cluster.store.remove(d, namespace, name)
  try {
    cluster.create(d, namespace, object)
  } catch (error) {
    if (!(error instanceof KubeError)) throw error
  }
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url')

/** cluster-bootstrap's detached JWS (HS256, key = the whole token) over the cluster-info kubeconfig. */
export function detachedJws(content: string, tokenId: string, tokenSecret: string): string {
  const header = b64url(JSON.stringify({alg: 'HS256', kid: tokenId}))
  const signature = createHmac('sha256', `${tokenId}.${tokenSecret}`).update(`${header}.${b64url(content)}`).digest()
  return `${header}..${b64url(signature)}`
}

/** The kubeconfig kubeadm publishes in kube-public/cluster-info: the endpoint and the CA, no credentials. */
export function clusterInfoKubeconfig(endpoint: string, caPem: string): string {
  return stringify({
    apiVersion: 'v1',
    clusters: [{cluster: {'certificate-authority-data': Buffer.from(caPem).toString('base64'), server: `https://${endpoint}`}, name: ''}],
    contexts: null,
    'current-context': '',
    kind: 'Config',
    preferences: {},
    users: null,
  })
}

export function uploadConfig(cluster: Cluster, clusterConfiguration: Record<string, unknown>, kubeletConfigYaml: string): void {
  put(cluster, '', 'configmaps', 'kube-system', {apiVersion: 'v1', data: {ClusterConfiguration: stringify(clusterConfiguration)}, kind: 'ConfigMap', metadata: {name: 'kubeadm-config', namespace: 'kube-system'}})
  put(cluster, '', 'configmaps', 'kube-system', {
    apiVersion: 'v1', data: {kubelet: kubeletConfigYaml}, kind: 'ConfigMap',
    metadata: {annotations: {'kubeadm.kubernetes.io/component-config.hash': ''}, name: 'kubelet-config', namespace: 'kube-system'},
  })
  for (const [kind, name, rules] of [
    ['Role', 'kubeadm:nodes-kubeadm-config', [{apiGroups: [''], resourceNames: ['kubeadm-config'], resources: ['configmaps'], verbs: ['get']}]],
    ['Role', 'kubeadm:kubelet-config', [{apiGroups: [''], resourceNames: ['kubelet-config'], resources: ['configmaps'], verbs: ['get']}]],
  ] as const) {
    put(cluster, 'rbac.authorization.k8s.io', 'roles', 'kube-system', {apiVersion: 'rbac.authorization.k8s.io/v1', kind, metadata: {name, namespace: 'kube-system'}, rules})
    put(cluster, 'rbac.authorization.k8s.io', 'rolebindings', 'kube-system', {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: {name, namespace: 'kube-system'},
      roleRef: {apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name},
      subjects: [{kind: 'Group', name: 'system:bootstrappers:kubeadm:default-node-token'}, {kind: 'Group', name: 'system:nodes'}],
    })
  }
}

/** The bootstrap token Secret — without its secret half, which the lab never keeps. */
export function bootstrapTokenSecret(cluster: Cluster, token: StoredToken): void {
  const data: Record<string, string> = {
    'token-id': token.id,
    'usage-bootstrap-authentication': token.usages.includes('authentication') ? 'true' : 'false',
    'usage-bootstrap-signing': token.usages.includes('signing') ? 'true' : 'false',
    ...(token.description ? {description: token.description} : {}),
    ...(token.expires ? {expiration: token.expires.replace(/\.\d+Z$/, 'Z')} : {}),
    ...(token.groups.length > 0 ? {'auth-extra-groups': token.groups.join(',')} : {}),
  }
  put(cluster, '', 'secrets', 'kube-system', {
    apiVersion: 'v1',
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    kind: 'Secret',
    metadata: {annotations: {'kp-lab/token-secret': 'not kept by the lab'}, name: `bootstrap-token-${token.id}`, namespace: 'kube-system'},
    type: 'bootstrap.kubernetes.io/token',
  })
}

/** kube-public/cluster-info with a JWS signature per token (the signer controller's work). */
export function clusterInfo(cluster: Cluster, endpoint: string, caPem: string, signatures: Record<string, string>): void {
  const existing = core('configmaps') ? cluster.find<KubeObject & {data?: Record<string, string>}>(core('configmaps')!, 'kube-public', 'cluster-info') : undefined
  const kubeconfig = clusterInfoKubeconfig(endpoint, caPem)
  const old = Object.fromEntries(Object.entries(existing?.data ?? {}).filter(([k]) => k.startsWith('jws-kubeconfig-')))
  put(cluster, '', 'configmaps', 'kube-public', {
    apiVersion: 'v1',
    data: {...old, ...Object.fromEntries(Object.entries(signatures).map(([id, jws]) => [`jws-kubeconfig-${id}`, jws])), kubeconfig},
    kind: 'ConfigMap',
    metadata: {name: 'cluster-info', namespace: 'kube-public'},
  })
  put(cluster, 'rbac.authorization.k8s.io', 'roles', 'kube-public', {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: {name: 'kubeadm:bootstrap-signer-clusterinfo', namespace: 'kube-public'},
    rules: [{apiGroups: [''], resourceNames: ['cluster-info'], resources: ['configmaps'], verbs: ['get']}],
  })
}

/** The RBAC rules kubeadm's bootstrap-token phase prints it configured. */
export function bootstrapRbac(cluster: Cluster): void {
  const binding = (name: string, role: string, group: string) =>
    put(cluster, 'rbac.authorization.k8s.io', 'clusterrolebindings', undefined, {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: {name},
      roleRef: {apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role}, subjects: [{kind: 'Group', name: group}],
    })
  put(cluster, 'rbac.authorization.k8s.io', 'clusterroles', undefined, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: {name: 'kubeadm:get-nodes'}, rules: [{apiGroups: [''], resources: ['nodes'], verbs: ['get']}],
  })
  binding('kubeadm:get-nodes', 'kubeadm:get-nodes', 'system:bootstrappers:kubeadm:default-node-token')
  binding('kubeadm:kubelet-bootstrap', 'system:node-bootstrapper', 'system:bootstrappers:kubeadm:default-node-token')
  binding('kubeadm:node-autoapprove-bootstrap', 'system:certificates.k8s.io:certificatesigningrequests:nodeclient', 'system:bootstrappers:kubeadm:default-node-token')
  binding('kubeadm:node-autoapprove-certificate-rotation', 'system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', 'system:nodes')
  binding('kubeadm:cluster-admins', 'cluster-admin', 'kubeadm:cluster-admins')
}

const COREDNS_IMAGE: Record<string, string> = {'1.30': 'v1.11.1', '1.31': 'v1.11.3', '1.32': 'v1.11.3', '1.33': 'v1.12.0'}

/** The CoreDNS Deployment (2 replicas, on control planes too) and kube-proxy DaemonSet kubeadm applies. */
export function addons(cluster: Cluster, input: {dnsDomain: string; kubernetesVersion: string; podSubnet: string; serviceSubnet: string; dnsIp: string}): void {
  const minor = input.kubernetesVersion.split('.').slice(0, 2).join('.')
  const controlPlaneToleration = {effect: 'NoSchedule', key: 'node-role.kubernetes.io/control-plane'}
  put(cluster, '', 'serviceaccounts', 'kube-system', {apiVersion: 'v1', kind: 'ServiceAccount', metadata: {name: 'coredns', namespace: 'kube-system'}})
  put(cluster, '', 'configmaps', 'kube-system', {
    apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'coredns', namespace: 'kube-system'},
    data: {Corefile: `.:53 {\n    errors\n    health {\n       lameduck 5s\n    }\n    ready\n    kubernetes ${input.dnsDomain} in-addr.arpa ip6.arpa {\n       pods insecure\n       fallthrough in-addr.arpa ip6.arpa\n       ttl 30\n    }\n    prometheus :9153\n    forward . /etc/resolv.conf {\n       max_concurrent 1000\n    }\n    cache 30\n    loop\n    reload\n    loadbalance\n}\n`},
  })
  put(cluster, 'apps', 'deployments', 'kube-system', {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: {labels: {'k8s-app': 'kube-dns'}, name: 'coredns', namespace: 'kube-system'},
    spec: {
      replicas: 2,
      selector: {matchLabels: {'k8s-app': 'kube-dns'}},
      template: {
        metadata: {labels: {'k8s-app': 'kube-dns'}},
        spec: {
          containers: [{args: ['-conf', '/etc/coredns/Corefile'], image: `registry.k8s.io/coredns/coredns:${COREDNS_IMAGE[minor] ?? 'v1.11.3'}`, name: 'coredns', ports: [{containerPort: 53, name: 'dns', protocol: 'UDP'}]}],
          nodeSelector: {'kubernetes.io/os': 'linux'},
          priorityClassName: 'system-cluster-critical',
          serviceAccountName: 'coredns',
          tolerations: [{key: 'CriticalAddonsOnly', operator: 'Exists'}, controlPlaneToleration],
        },
      },
    },
  })
  put(cluster, '', 'services', 'kube-system', {
    apiVersion: 'v1', kind: 'Service', metadata: {labels: {'k8s-app': 'kube-dns', 'kubernetes.io/name': 'CoreDNS'}, name: 'kube-dns', namespace: 'kube-system'},
    spec: {clusterIP: input.dnsIp, ports: [{name: 'dns', port: 53, protocol: 'UDP'}, {name: 'dns-tcp', port: 53, protocol: 'TCP'}], selector: {'k8s-app': 'kube-dns'}},
  })
  put(cluster, '', 'serviceaccounts', 'kube-system', {apiVersion: 'v1', kind: 'ServiceAccount', metadata: {name: 'kube-proxy', namespace: 'kube-system'}})
  put(cluster, '', 'configmaps', 'kube-system', {
    apiVersion: 'v1', kind: 'ConfigMap', metadata: {labels: {app: 'kube-proxy'}, name: 'kube-proxy', namespace: 'kube-system'},
    data: {'config.conf': stringify({apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', clusterCIDR: input.podSubnet, kind: 'KubeProxyConfiguration', mode: ''})},
  })
  put(cluster, 'apps', 'daemonsets', 'kube-system', {
    apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: {labels: {'k8s-app': 'kube-proxy'}, name: 'kube-proxy', namespace: 'kube-system'},
    spec: {
      selector: {matchLabels: {'k8s-app': 'kube-proxy'}},
      template: {
        metadata: {labels: {'k8s-app': 'kube-proxy'}},
        spec: {
          containers: [{command: ['/usr/local/bin/kube-proxy', '--config=/var/lib/kube-proxy/config.conf', '--hostname-override=$(NODE_NAME)'], image: `registry.k8s.io/kube-proxy:v${input.kubernetesVersion}`, name: 'kube-proxy'}],
          hostNetwork: true,
          nodeSelector: {'kubernetes.io/os': 'linux'},
          priorityClassName: 'system-node-critical',
          serviceAccountName: 'kube-proxy',
          tolerations: [{operator: 'Exists'}],
        },
      },
    },
  })
}
