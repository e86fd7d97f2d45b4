/**
 * The kubeadm configuration kp hands to `kubeadm init --config` on the first control plane and to
 * `kubeadm join --config` on every other node, rendered from kp.yaml: InitConfiguration +
 * ClusterConfiguration + KubeletConfiguration for init, one JoinConfiguration for a join. The
 * kubeadm API version follows the Kubernetes version: v1beta4 from 1.31 (when kubeadm made it the
 * current one and deprecated v1beta3), v1beta3 before. Values kubeadm would default anyway
 * (timeouts, validity periods, image repository) are written out, so the file says on its own
 * what the cluster was built with.
 *
 * Secrets: the rendered text holds the bootstrap token and, for control planes, the certificate
 * key. They are passed in at render time (PLACEHOLDER_SECRETS for golden files and dry runs), and
 * the text is only ever written over SSH as the contents of a root-owned 0600 file under /run/kp
 * (a tmpfs: it never reaches the node's disk), which kubeadm reads with --config. It is never put
 * on a command line, journaled or logged; the values are registered with redact() when generated.
 */
import {Document, Scalar} from 'yaml'

import {DEFAULT_API_PORT} from '../config/defaults.js'
import {endpointParts} from '../config/net.js'
import type {ClusterConfig, NodeConfig} from '../config/schema.js'
import {ExitCode, KpError} from '../errors.js'
import {minorOf} from '../kubernetes-versions.js'
import type {KubeadmVersion} from './schema.js'
import {BOOTSTRAP_TOKEN_PATTERN, CA_CERT_HASH_PATTERN, CERTIFICATE_KEY_PATTERN, PLACEHOLDER_SECRETS} from './secrets.js'

export const CRI_SOCKET = 'unix:///var/run/containerd/containerd.sock'
/** Where kp writes the rendered files on a node: /run is a tmpfs, so the secrets never reach a disk. */
export const KUBEADM_CONFIG_DIR = '/run/kp'
export const KUBEADM_CONFIG_PATHS = {init: `${KUBEADM_CONFIG_DIR}/kubeadm-init.yaml`, join: `${KUBEADM_CONFIG_DIR}/kubeadm-join.yaml`} as const
/** The uploaded certificates expire after two hours anyway; a longer-lived token would only widen the window. */
export const DEFAULT_TOKEN_TTL = '2h0m0s'

/** The parts of kp.yaml a kubeadm configuration is made from. */
export interface KubeadmRenderConfig {
  cluster: ClusterConfig
  nodes: readonly NodeConfig[]
}

export interface KubeadmInitSecrets {
  bootstrapToken: string
  certificateKey: string
}

export interface KubeadmJoinInputs {
  bootstrapToken: string
  /** `sha256:<hex>` of the cluster CA's public key (caCertHash): the join refuses any other CA. */
  caCertHashes: readonly string[]
  /** Required for a control plane: decrypts the certificates `kubeadm init --upload-certs` left. */
  certificateKey?: string
}

export interface KubeadmInitOptions {
  /** Lifetime of the bootstrap token, a Go duration; default DEFAULT_TOKEN_TTL. */
  tokenTtl?: string
}

/** The kubeadm API version for a Kubernetes version (X.Y.Z, with or without "v"). */
export function kubeadmApiVersion(kubernetesVersion: string): `kubeadm.k8s.io/${KubeadmVersion}` {
  return `kubeadm.k8s.io/${kubeadmVersionFor(kubernetesVersion)}`
}

function kubeadmVersionFor(kubernetesVersion: string): KubeadmVersion {
  return Number(minorOf(kubernetesVersion).split('.')[1]) >= 31 ? 'v1beta4' : 'v1beta3'
}

/** The argv of `kubeadm init`: the file carries the secrets, so nothing secret is on the command line. */
export function kubeadmInitArgv(configPath: string = KUBEADM_CONFIG_PATHS.init): string[] {
  return ['kubeadm', 'init', '--config', configPath, '--upload-certs']
}

export function kubeadmJoinArgv(configPath: string = KUBEADM_CONFIG_PATHS.join): string[] {
  return ['kubeadm', 'join', '--config', configPath]
}

// Every timeout kubeadm's v1beta4 knows for init and join, at kubeadm's defaults.
const TIMEOUTS = {
  controlPlaneComponentHealthCheck: '4m0s',
  discovery: '5m0s',
  etcdAPICall: '2m0s',
  kubeletHealthCheck: '4m0s',
  kubernetesAPICall: '1m0s',
  tlsBootstrap: '5m0s',
}

function bug(message: string): KpError {
  return new KpError('bug', ExitCode.stepFailed, message)
}

/** A secret as an explicitly quoted string: never mistaken for a number, easy to spot. */
function secret(value: string): Scalar<string> {
  const scalar = new Scalar(value)
  scalar.type = Scalar.QUOTE_DOUBLE
  return scalar
}

// The messages name the value, never show it: these are secrets.
function checkToken(token: string): void {
  if (!BOOTSTRAP_TOKEN_PATTERN.test(token)) throw bug('the bootstrap token is not in kubeadm\'s format [a-z0-9]{6}.[a-z0-9]{16}')
}

function checkedCertificateKey(key: string | undefined): string {
  if (key === undefined || !CERTIFICATE_KEY_PATTERN.test(key)) throw bug('the certificate key must be 64 hex characters (32 bytes)')
  return key
}

/**
 * kp.yaml's endpoint with its host in lower case: DNS does not care, but kubeadm checks the host
 * is a lower-case RFC 1123 name and refuses `K8s.Lab.lan:6443` as "endpoint is not valid".
 */
function controlPlaneEndpoint(cluster: ClusterConfig): {endpoint: string; host: string} {
  // Only the host has letters: the port is digits.
  return {endpoint: cluster.controlPlaneEndpoint.toLowerCase(), host: endpointParts(cluster.controlPlaneEndpoint).host.toLowerCase()}
}

function nodeRegistration(v: KubeadmVersion, node: NodeConfig) {
  return {
    name: node.name,
    criSocket: CRI_SOCKET,
    imagePullPolicy: 'IfNotPresent',
    ...(v === 'v1beta4' ? {imagePullSerial: true} : {}),
    // The VMs may have several interfaces (the lab's have a management one); pin the cluster network.
    kubeletExtraArgs: v === 'v1beta4' ? [{name: 'node-ip', value: node.ip}] : {'node-ip': node.ip},
  }
}

function render(header: string[], documents: object[]): string {
  const body = documents.map((d) => new Document(d, {version: '1.1'}).toString({lineWidth: 0})).join('---\n')
  return `${header.map((line) => `# ${line}`).join('\n')}\n${body}`
}

function describe(node: NodeConfig, cluster: ClusterConfig, v: KubeadmVersion, command: string, token: string): string[] {
  const secrets = 'the bootstrap token' + (node.role === 'control-plane' ? ' and the certificate key' : '')
  return [
    `${command} configuration for ${node.name} (${node.role}), rendered by kp: Kubernetes ${cluster.kubernetesVersion}, kubeadm.k8s.io/${v}.`,
    // The copy kp keeps for the operator to read (and golden files) says so: it holds no secret.
    token === PLACEHOLDER_SECRETS.bootstrapToken
      ? `Placeholders stand in for ${secrets}: the file kp writes on the node holds fresh ones, root only (0600), deleted after use.`
      : `It holds ${secrets}: root only (0600), deleted after use.`,
  ]
}

/** The file for `kubeadm init --config … --upload-certs` on the first control plane. */
export function renderInitConfig(config: KubeadmRenderConfig, node: NodeConfig, secrets: KubeadmInitSecrets, options: KubeadmInitOptions = {}): string {
  if (node.role !== 'control-plane') throw bug(`kubeadm init runs on a control plane, and ${node.name} is a ${node.role}`)
  checkToken(secrets.bootstrapToken)
  const certificateKey = checkedCertificateKey(secrets.certificateKey)
  const {cluster} = config
  const v = kubeadmVersionFor(cluster.kubernetesVersion)
  const apiVersion = `kubeadm.k8s.io/${v}`
  const controlPlaneIps = config.nodes.filter((n) => n.role === 'control-plane').map((n) => n.ip)
  const {endpoint, host} = controlPlaneEndpoint(cluster)
  const init = {
    apiVersion,
    kind: 'InitConfiguration',
    bootstrapTokens: [
      {
        token: secret(secrets.bootstrapToken),
        description: 'kp bootstrap: joins the other nodes',
        ttl: options.tokenTtl ?? DEFAULT_TOKEN_TTL,
        usages: ['signing', 'authentication'],
        groups: ['system:bootstrappers:kubeadm:default-node-token'],
      },
    ],
    // With --upload-certs, kubeadm encrypts the control-plane certificates with this key into the
    // kubeadm-certs Secret, from which the other control planes fetch them when they join.
    certificateKey: secret(certificateKey),
    localAPIEndpoint: {advertiseAddress: node.ip, bindPort: DEFAULT_API_PORT},
    nodeRegistration: nodeRegistration(v, node),
    ...(v === 'v1beta4' ? {timeouts: TIMEOUTS} : {}),
  }
  const clusterConfiguration = {
    apiVersion,
    kind: 'ClusterConfiguration',
    clusterName: cluster.name,
    kubernetesVersion: `v${cluster.kubernetesVersion}`,
    controlPlaneEndpoint: endpoint,
    certificatesDir: '/etc/kubernetes/pki',
    imageRepository: 'registry.k8s.io',
    ...(v === 'v1beta4' ? {encryptionAlgorithm: 'RSA-2048', certificateValidityPeriod: '8760h0m0s', caCertificateValidityPeriod: '87600h0m0s'} : {}),
    networking: {dnsDomain: 'cluster.local', podSubnet: cluster.podSubnet, serviceSubnet: cluster.serviceSubnet},
    apiServer: {
      // Every control plane's own address too, so the API server can be reached on any of them
      // when the endpoint (a VIP or load balancer) is down.
      certSANs: [...new Set([host, ...controlPlaneIps])],
      ...(v === 'v1beta3' ? {timeoutForControlPlane: TIMEOUTS.controlPlaneComponentHealthCheck} : {}),
    },
    etcd: {local: {dataDir: '/var/lib/etcd'}},
  }
  const kubelet = {apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', cgroupDriver: 'systemd'}
  return render(describe(node, cluster, v, 'kubeadm init', secrets.bootstrapToken), [init, clusterConfiguration, kubelet])
}

/** The file for `kubeadm join --config` on a worker or an additional control plane. */
export function renderJoinConfig(config: KubeadmRenderConfig, node: NodeConfig, inputs: KubeadmJoinInputs): string {
  checkToken(inputs.bootstrapToken)
  if (inputs.caCertHashes.length === 0 || !inputs.caCertHashes.every((h) => CA_CERT_HASH_PATTERN.test(h))) {
    throw bug('a join needs the CA cert hash(es), each sha256:<64 hex>: kp never joins without pinning the cluster CA')
  }

  const certificateKey = node.role === 'control-plane' ? checkedCertificateKey(inputs.certificateKey) : undefined
  const {cluster} = config
  const v = kubeadmVersionFor(cluster.kubernetesVersion)
  const join = {
    apiVersion: `kubeadm.k8s.io/${v}`,
    kind: 'JoinConfiguration',
    caCertPath: '/etc/kubernetes/pki/ca.crt',
    discovery: {
      bootstrapToken: {
        apiServerEndpoint: controlPlaneEndpoint(cluster).endpoint,
        token: secret(inputs.bootstrapToken),
        caCertHashes: [...inputs.caCertHashes],
      },
      ...(v === 'v1beta3' ? {timeout: TIMEOUTS.discovery} : {}),
    },
    nodeRegistration: nodeRegistration(v, node),
    ...(certificateKey === undefined
      ? {}
      : {controlPlane: {localAPIEndpoint: {advertiseAddress: node.ip, bindPort: DEFAULT_API_PORT}, certificateKey: secret(certificateKey)}}),
    ...(v === 'v1beta4' ? {timeouts: TIMEOUTS} : {}),
  }
  return render(describe(node, cluster, v, 'kubeadm join', inputs.bootstrapToken), [join])
}
