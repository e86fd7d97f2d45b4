/**
 * The files `kubeadm init`, `kubeadm join --control-plane` and `kubeadm join` leave on a node,
 * made on the lab host (certificates with openssl, signed by the cluster's CAs from pki.ts) and
 * handed to the lab supervisor as path → content and mode, to be written into the VM's root.
 * Subjects, SANs, usages, kubeconfig names and file modes are kubeadm's, so kp's certificate,
 * kubeconfig and health code meets on a lab node what it would meet on a real one.
 */
import {parse, stringify} from 'yaml'

import {DEFAULT_API_PORT} from '../../config/defaults.js'
import {CRI_SOCKET} from '../../kubeadm/config.js'
import {parseCidr, splitHostPort} from '../../kubeadm/net.js'
import {minorOf, pauseImage} from '../../kubernetes-versions.js'

import {staticPodManifests} from './manifests.js'
import {
  type CertificateSpec, type ClusterCa, DEFAULT_CERT_DAYS, DEFAULT_ENCRYPTION_ALGORITHM, type EncryptionAlgorithm, issueCertificate,
  type Issuer, issuerFiles, type KeyPair, type LabPkiOptions,
} from './pki.js'

export interface LabNode {
  name: string
  ip: string
}

export interface LabClusterSpec {
  clusterName: string
  /** X.Y.Z, without the v: '1.31.8'. */
  kubernetesVersion: string
  /** 'host:port' as in the kubeadm config (controlPlaneEndpoint). */
  endpoint: string
  serviceSubnet: string
  podSubnet: string
  /** cluster.local by default. */
  dnsDomain?: string
  /** The KubeletConfiguration document from the init config, if any. */
  kubeletConfigYaml?: string
  /** ClusterConfiguration.apiServer.certSANs: extra names of the API server certificate. */
  certSans?: readonly string[]
}

export interface NodeFile {
  content: string
  mode: number
}

/** Absolute paths as on the node → file. */
export type NodeFiles = Map<string, NodeFile>

export interface ControlPlaneOptions extends LabPkiOptions {
  /** `kubeadm init` (true) or `kubeadm join --control-plane` (false). */
  first: boolean
  /** The etcd members already there when this control plane joins (its etcd's --initial-cluster). */
  etcdPeers?: readonly LabNode[]
}

const K8S = '/etc/kubernetes'
const PKI = `${K8S}/pki`
const KUBELET_CLIENT_PEM = '/var/lib/kubelet/pki/kubelet-client-current.pem'
// kubeadm's modes: private keys and kubeconfigs (they hold keys) 0600, certificates 0644, and
// sa.pub and the static pod manifests 0600 too (kubeadm writes them with 0600).
const CERT = 0o644
const SECRET = 0o600

/** The address `n` places after the network of the (first, if dual-stack) subnet. */
export function subnetAddress(subnets: string, n: number): string {
  const first = subnets.split(',')[0]!.trim()
  const cidr = parseCidr(first)
  if (!cidr) throw new Error(`not a CIDR: ${JSON.stringify(first)}`)
  const network = cidr.network.split('/')[0]!
  if (cidr.family === 4) {
    const value = network.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0) + n
    return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.')
  }

  const [head = '', tail = ''] = network.split('::')
  const groups = (s: string) => (s ? s.split(':') : [])
  const all = [...groups(head), ...Array.from({length: 8 - groups(head).length - groups(tail).length}, () => '0'), ...groups(tail)]
  const value = all.reduce((acc, g) => (acc << 16n) + BigInt(`0x${g}`), 0n) + BigInt(n)
  const full = Array.from({length: 8}, (_, i) => ((value >> BigInt(16 * (7 - i))) & 0xffffn).toString(16)).join(':')
  // The URL parser prints an IPv6 address in its canonical, compressed form.
  return new URL(`http://[${full}]/`).hostname.slice(1, -1)
}

function endpointHost(endpoint: string): string {
  const parts = splitHostPort(endpoint)
  if ('error' in parts) throw new Error(`the control-plane endpoint ${parts.error}`)
  return parts.host
}

function url(endpoint: string): string {
  return `https://${endpoint}`
}

type Credentials = {file: string} | {pair: KeyPair}

interface KubeconfigNames {
  cluster: string
  context: string
  namespace?: string
  user: string
}

/** A kubeconfig as kubeadm (or, after TLS bootstrap, the kubelet) writes it. */
export function kubeconfig(server: string, caPem: string, names: KubeconfigNames, credentials: Credentials): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64')
  const user = 'file' in credentials
    ? {'client-certificate': credentials.file, 'client-key': credentials.file}
    : {'client-certificate-data': b64(credentials.pair.certPem), 'client-key-data': b64(credentials.pair.keyPem)}
  return stringify({
    apiVersion: 'v1',
    clusters: [{cluster: {'certificate-authority-data': b64(caPem), server}, name: names.cluster}],
    contexts: [{context: {cluster: names.cluster, ...(names.namespace ? {namespace: names.namespace} : {}), user: names.user}, name: names.context}],
    'current-context': names.context,
    kind: 'Config',
    preferences: {},
    users: [{name: names.user, user}],
  }, {indentSeq: false, lineWidth: 0})
}

function kubeadmNames(spec: LabClusterSpec, user: string): KubeconfigNames {
  return {cluster: spec.clusterName, context: `${user}@${spec.clusterName}`, user}
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

function merge(base: Obj, over: Obj): Obj {
  const out: Obj = {...base}
  for (const [k, v] of Object.entries(over)) out[k] = isObj(v) && isObj(out[k]) ? merge(out[k], v) : v
  return out
}

/** /var/lib/kubelet/config.yaml: the init config's KubeletConfiguration over kubeadm's defaults. */
export function kubeletConfig(spec: LabClusterSpec): string {
  const defaults: Obj = {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    authentication: {anonymous: {enabled: false}, webhook: {cacheTTL: '0s', enabled: true}, x509: {clientCAFile: `${PKI}/ca.crt`}},
    authorization: {mode: 'Webhook', webhook: {cacheAuthorizedTTL: '0s', cacheUnauthorizedTTL: '0s'}},
    cgroupDriver: 'systemd',
    clusterDNS: [subnetAddress(spec.serviceSubnet, 10)],
    clusterDomain: spec.dnsDomain ?? 'cluster.local',
    containerRuntimeEndpoint: '',
    healthzBindAddress: '127.0.0.1',
    healthzPort: 10_248,
    kind: 'KubeletConfiguration',
    rotateCertificates: true,
    staticPodPath: `${K8S}/manifests`,
  }
  let user: unknown = {}
  if (spec.kubeletConfigYaml?.trim()) {
    try {
      user = parse(spec.kubeletConfigYaml)
    } catch (error) {
      throw new Error(`the KubeletConfiguration is not YAML: ${(error as Error).message}`, {cause: error})
    }
  }

  if (!isObj(user)) throw new Error('the KubeletConfiguration is not a mapping')
  const merged = merge(defaults, user)
  return stringify(Object.fromEntries(Object.entries(merged).sort(([a], [b]) => a.localeCompare(b))), {indentSeq: false, lineWidth: 0})
}

/** /var/lib/kubelet/kubeadm-flags.env: the runtime, kp's node-ip, and the pause image before 1.31. */
export function kubeadmFlagsEnv(spec: LabClusterSpec, node: LabNode): string {
  const flags = [`--container-runtime-endpoint=${CRI_SOCKET}`, `--node-ip=${node.ip}`]
  // From 1.31 kubeadm leaves the sandbox image to the container runtime's configuration.
  if (Number(minorOf(spec.kubernetesVersion).split('.')[1]) < 31) flags.push(`--pod-infra-container-image=${pauseImage(spec.kubernetesVersion)}`)
  return `KUBELET_KUBEADM_ARGS="${flags.join(' ')}"\n`
}

/** What the kubelet reads after its TLS bootstrap: its client certificate and key in one file. */
function kubeletFiles(ca: ClusterCa, spec: LabClusterSpec, node: LabNode, client: KeyPair, bootstrapped: boolean): NodeFiles {
  const names = bootstrapped
    ? {cluster: 'default-cluster', context: 'default-context', namespace: 'default', user: 'default-auth'}
    : kubeadmNames(spec, `system:node:${node.name}`)
  return new Map([
    [`${K8S}/kubelet.conf`, {content: kubeconfig(url(spec.endpoint), ca.ca.certPem, names, {file: KUBELET_CLIENT_PEM}), mode: SECRET}],
    [KUBELET_CLIENT_PEM, {content: client.certPem + client.keyPem, mode: SECRET}],
    ['/var/lib/kubelet/config.yaml', {content: kubeletConfig(spec), mode: CERT}],
    ['/var/lib/kubelet/kubeadm-flags.env', {content: kubeadmFlagsEnv(spec, node), mode: CERT}],
  ])
}

interface Leaf {
  algorithm?: EncryptionAlgorithm
  issuer: Issuer
  spec: Omit<CertificateSpec, 'days'>
}

/** Every leaf at once (they are independent: one openssl each); the result is looked up by name. */
async function issueAll(ca: ClusterCa, leaves: Record<string, Leaf>, options: LabPkiOptions): Promise<(name: string) => KeyPair> {
  const days = options.certDays ?? DEFAULT_CERT_DAYS
  const entries = Object.entries(leaves)
  const pairs = await Promise.all(entries.map(([, leaf]) => issueCertificate({...leaf.spec, days}, issuerFiles(ca.dir, leaf.issuer), leaf.algorithm ?? options.encryptionAlgorithm ?? DEFAULT_ENCRYPTION_ALGORITHM)))
  const byName = new Map(entries.map(([name], i) => [name, pairs[i]!]))
  return (name) => {
    const pair = byName.get(name)
    if (!pair) throw new Error(`bug: no certificate ${name} was issued`)
    return pair
  }
}

function kubeletLeaf(node: LabNode, algorithm?: EncryptionAlgorithm): Leaf {
  return {algorithm, issuer: 'ca', spec: {cn: `system:node:${node.name}`, o: ['system:nodes'], usages: ['clientAuth']}}
}

// The kubelet makes its own key for the TLS bootstrap, always ECDSA P-256.
const BOOTSTRAP_KEY: EncryptionAlgorithm = 'ECDSA-P256'

/**
 * Everything `kubeadm init` (first) or `kubeadm join --control-plane` writes on a control plane:
 * the PKI under /etc/kubernetes/pki (the shared CAs and sa keys, this node's own leaves), the
 * kubeconfigs (super-admin.conf only on the first, from 1.29), the static pod manifests and the
 * kubelet's files.
 */
export async function controlPlaneFiles(ca: ClusterCa, spec: LabClusterSpec, node: LabNode, options: ControlPlaneOptions): Promise<NodeFiles> {
  const minor = Number(minorOf(spec.kubernetesVersion).split('.')[1])
  // 1.29 moved admin.conf out of system:masters into a group RBAC can revoke; super-admin.conf keeps the break-glass one.
  const adminGroup = minor >= 29 ? 'kubeadm:cluster-admins' : 'system:masters'
  const superAdmin = options.first && minor >= 29
  const dnsDomain = spec.dnsDomain ?? 'cluster.local'
  const etcdSans = ['localhost', node.name, node.ip, '127.0.0.1', '::1']
  const leaves: Record<string, Leaf> = {
    'admin': {issuer: 'ca', spec: {cn: 'kubernetes-admin', o: [adminGroup], usages: ['clientAuth']}},
    'apiserver': {issuer: 'ca', spec: {
      cn: 'kube-apiserver',
      sans: [node.name, 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${dnsDomain}`,
        subnetAddress(spec.serviceSubnet, 1), node.ip, endpointHost(spec.endpoint), ...(spec.certSans ?? [])],
      usages: ['serverAuth'],
    }},
    'apiserver-etcd-client': {issuer: 'etcd-ca', spec: {cn: 'kube-apiserver-etcd-client', usages: ['clientAuth']}},
    'apiserver-kubelet-client': {issuer: 'ca', spec: {cn: 'kube-apiserver-kubelet-client', o: [adminGroup], usages: ['clientAuth']}},
    'controller-manager': {issuer: 'ca', spec: {cn: 'system:kube-controller-manager', usages: ['clientAuth']}},
    'etcd/healthcheck-client': {issuer: 'etcd-ca', spec: {cn: 'kube-etcd-healthcheck-client', usages: ['clientAuth']}},
    'etcd/peer': {issuer: 'etcd-ca', spec: {cn: node.name, sans: etcdSans, usages: ['serverAuth', 'clientAuth']}},
    'etcd/server': {issuer: 'etcd-ca', spec: {cn: node.name, sans: etcdSans, usages: ['serverAuth', 'clientAuth']}},
    'front-proxy-client': {issuer: 'front-proxy-ca', spec: {cn: 'front-proxy-client', usages: ['clientAuth']}},
    // A joining control plane's kubelet bootstraps like a worker's; init's is made by kubeadm.
    'kubelet': kubeletLeaf(node, options.first ? undefined : BOOTSTRAP_KEY),
    'scheduler': {issuer: 'ca', spec: {cn: 'system:kube-scheduler', usages: ['clientAuth']}},
    ...(superAdmin ? {'super-admin': {issuer: 'ca', spec: {cn: 'kubernetes-super-admin', o: ['system:masters'], usages: ['clientAuth']}}} : {}),
  }
  const cert = await issueAll(ca, leaves, options)

  const files: NodeFiles = new Map()
  const pair = (base: string, p: KeyPair) => {
    files.set(`${PKI}/${base}.crt`, {content: p.certPem, mode: CERT})
    files.set(`${PKI}/${base}.key`, {content: p.keyPem, mode: SECRET})
  }

  pair('ca', ca.ca)
  pair('front-proxy-ca', ca.frontProxyCa)
  pair('etcd/ca', ca.etcdCa)
  for (const base of ['apiserver', 'apiserver-kubelet-client', 'apiserver-etcd-client', 'front-proxy-client', 'etcd/server', 'etcd/peer', 'etcd/healthcheck-client']) pair(base, cert(base))
  files.set(`${PKI}/sa.key`, {content: ca.sa.key, mode: SECRET})
  files.set(`${PKI}/sa.pub`, {content: ca.sa.pub, mode: SECRET})

  // admin.conf and super-admin.conf go through the endpoint; the controller manager and the
  // scheduler talk to their own node's API server, as kubeadm sets them up.
  const local = url(`${node.ip.includes(':') ? `[${node.ip}]` : node.ip}:${DEFAULT_API_PORT}`)
  const conf = (file: string, server: string, user: string, p: KeyPair) =>
    files.set(`${K8S}/${file}`, {content: kubeconfig(server, ca.ca.certPem, kubeadmNames(spec, user), {pair: p}), mode: SECRET})
  conf('admin.conf', url(spec.endpoint), 'kubernetes-admin', cert('admin'))
  if (superAdmin) conf('super-admin.conf', url(spec.endpoint), 'kubernetes-super-admin', cert('super-admin'))
  conf('controller-manager.conf', local, 'system:kube-controller-manager', cert('controller-manager'))
  conf('scheduler.conf', local, 'system:kube-scheduler', cert('scheduler'))

  for (const [name, content] of staticPodManifests(spec, node, {etcdPeers: options.etcdPeers})) files.set(`${K8S}/manifests/${name}`, {content, mode: SECRET})
  for (const [file, content] of kubeletFiles(ca, spec, node, cert('kubelet'), !options.first)) files.set(file, content)
  return files
}

/**
 * What `kubeadm join` writes on a worker: the cluster CA, and the kubelet's files as they are
 * after its TLS bootstrap (client certificate `system:node:<name>` in `system:nodes`).
 */
export async function workerFiles(ca: ClusterCa, spec: LabClusterSpec, node: LabNode, options: LabPkiOptions = {}): Promise<NodeFiles> {
  const cert = await issueAll(ca, {kubelet: kubeletLeaf(node, BOOTSTRAP_KEY)}, options)
  return new Map([[`${PKI}/ca.crt`, {content: ca.ca.certPem, mode: CERT}], ...kubeletFiles(ca, spec, node, cert('kubelet'), true)])
}
