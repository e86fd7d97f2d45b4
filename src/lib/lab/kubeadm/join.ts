/**
 * `kubeadm join` in the lab (with --config, or the flags `kubeadm token create --print-join-command`
 * prints): preflight, token discovery against the cluster the endpoint names (token id, secret
 * and CA pin checked as discovery/token/token.go does), the certificate key of a control plane
 * (copycerts.DownloadCerts), then the node's files, the kubelet, and for a control plane its
 * static pods, label and taint.
 */
import {stringify} from 'yaml'

import {kubeadmApiVersion} from '../../kubeadm/config.js'
import {flagBool, flagList, flagString, mixedWithConfig} from './argv.js'
import {
  type Call, controlPlaneChecks, etcdChecks, fail, fileAvailable, finishPreflight, kubeletChecks, kubeletServing, loadConfig, type LoadedConfig, out, portInUse, rootCheck, validateConfig,
} from './context.js'
import {controlPlaneFiles, workerFiles} from './node-files.js'
import {JOIN_CONTROL_PLANE_DONE, JOIN_WORKER_DONE, phaseError, plainError, type PreflightResult} from './output.js'
import {kubeletCheck, markControlPlane, startKubelet, writeNodeFiles} from './node-setup.js'
import type {EncryptionAlgorithm} from './pki.js'
import {checkCertificateKey, checkToken} from './state.js'
import {checkEtcd, joinMember} from './etcd-phase.js'
import {writeVmFiles} from './vm-files.js'

type Obj = Record<string, unknown>
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {})
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)

/** A JoinConfiguration made from join's flags (what kubeadm does with them), to validate and use like a file. */
function configFromFlags(c: Call): string {
  const endpoint = c.call.args[0]
  const token = flagString(c.call, 'discovery-token') ?? flagString(c.call, 'token')
  const hashes = flagList(c.call, 'discovery-token-ca-cert-hash')
  const controlPlane = flagBool(c.call, 'control-plane')
  const join: Obj = {
    apiVersion: kubeadmApiVersion(c.version),
    discovery: {
      bootstrapToken: {
        ...(endpoint ? {apiServerEndpoint: endpoint} : {}),
        ...(hashes.length > 0 ? {caCertHashes: hashes} : {}),
        ...(token ? {token} : {}),
        ...(flagBool(c.call, 'discovery-token-unsafe-skip-ca-verification') ? {unsafeSkipCAVerification: true} : {}),
      },
      ...(flagString(c.call, 'tls-bootstrap-token') ?? flagString(c.call, 'token') ? {tlsBootstrapToken: flagString(c.call, 'tls-bootstrap-token') ?? flagString(c.call, 'token')} : {}),
    },
    kind: 'JoinConfiguration',
    nodeRegistration: flagString(c.call, 'node-name') ? {name: flagString(c.call, 'node-name')} : {},
    ...(controlPlane
      ? {controlPlane: {...(flagString(c.call, 'certificate-key') ? {certificateKey: flagString(c.call, 'certificate-key')} : {}), localAPIEndpoint: {...(flagString(c.call, 'apiserver-advertise-address') ? {advertiseAddress: flagString(c.call, 'apiserver-advertise-address')} : {})}}}
      : {}),
  }
  return stringify(join)
}

export async function kubeadmJoin(c: Call): Promise<number> {
  const mixed = mixedWithConfig(c.call)
  if (mixed) fail(c, plainError(mixed))
  const config: LoadedConfig = flagString(c.call, 'config') === undefined ? validateConfig(c, 'join', configFromFlags(c)) : loadConfig(c, 'join')
  const join = config.find('JoinConfiguration') ?? {}
  const discovery = obj(obj(join.discovery).bootstrapToken)
  const controlPlaneSection = join.controlPlane === undefined ? undefined : obj(join.controlPlane)
  const nodeName = flagString(c.call, 'node-name') ?? str(obj(join.nodeRegistration).name) ?? c.vm.name
  const endpoint = str(discovery.apiServerEndpoint) ?? ''
  const token = str(discovery.token) ?? ''

  out(c, '[preflight] Running pre-flight checks')
  rootCheck(c)
  const checks: PreflightResult = {errors: [], warnings: []}
  fileAvailable(c.vm, '/etc/kubernetes/kubelet.conf', checks)
  fileAvailable(c.vm, '/etc/kubernetes/bootstrap-kubelet.conf', checks)
  kubeletChecks(c.vm, undefined, c.version, checks)
  portInUse(10_250, kubeletServing(c.vm), checks)
  fileAvailable(c.vm, '/etc/kubernetes/pki/ca.crt', checks)
  finishPreflight(c, checks)

  // Discovery: the cluster-info ConfigMap of the API server at the endpoint, its JWS for the token, the CA pin.
  const identity: (message: string) => never = (message) => fail(c, phaseError('preflight', `couldn't validate the identity of the API Server: ${message}`))
  const running = c.lab.clusters.byEndpoint(endpoint)
  if (!running) {
    identity(`failed to request the cluster-info ConfigMap: Get "https://${endpoint}/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s": dial tcp ${endpoint}: connect: connection refused`)
  }

  const {record, ca} = running
  const tokenState = checkToken(record, token)
  if (tokenState === 'unknown') identity(`could not find a JWS signature in the cluster-info ConfigMap for token ID ${JSON.stringify(token.split('.')[0] ?? '')}`)
  if (tokenState === 'bad-secret') identity("failed to verify JWS signature of received cluster info object, can't trust this API Server")
  const pins = Array.isArray(discovery.caCertHashes) ? (discovery.caCertHashes as string[]).map((h) => h.toLowerCase()) : []
  if (pins.length > 0 && !pins.includes(ca.caCertHash.toLowerCase())) {
    identity(`cluster CA found in cluster-info ConfigMap is invalid: none of the public keys ${JSON.stringify(ca.caCertHash)} are pinned`)
  }

  out(c, '[preflight] Reading configuration from the cluster...', "[preflight] FYI: You can look at this config file with 'kubectl -n kube-system get cm kubeadm-config -o yaml'")
  const node = {ip: str(obj(controlPlaneSection?.localAPIEndpoint).advertiseAddress) ?? c.vm.ip, name: nodeName}
  const pki = {caDays: 3650, certDays: record.certDays, ...(record.encryptionAlgorithm ? {encryptionAlgorithm: record.encryptionAlgorithm as EncryptionAlgorithm} : {})}
  if (controlPlaneSection) {
    out(c, '[preflight] Running pre-flight checks before initializing the new control plane instance')
    const cpChecks: PreflightResult = {errors: [], warnings: []}
    controlPlaneChecks(c.vm, 6443, cpChecks)
    kubeletChecks(c.vm, record.spec.kubernetesVersion, c.version, cpChecks)
    etcdChecks(c.vm, cpChecks)
    finishPreflight(c, {errors: cpChecks.errors, warnings: cpChecks.warnings.filter((w) => w.check !== 'Service-Kubelet')})
    out(c, '[preflight] Pulling images required for setting up a Kubernetes cluster', '[preflight] This might take a minute or two, depending on the speed of your internet connection', "[preflight] You can also perform this action beforehand using 'kubeadm config images pull'")
    out(c, '[download-certs] Downloading the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace')
    const key = str(controlPlaneSection.certificateKey) ?? ''
    const keyState = checkCertificateKey(record, key)
    const download: (message: string) => never = (message) => fail(c, phaseError('control-plane-prepare/download-certs', `error downloading certs: ${message}`))
    if (keyState === 'expired') {
      download('error downloading the secret: Secret "kubeadm-certs" was not found in the "kube-system" Namespace. This Secret might have expired. Please, run `kubeadm init phase upload-certs --upload-certs` on a control plane to generate a new one')
    }
    if (keyState === 'wrong') download('error decoding secret data with provided key: cipher: message authentication failed')

    const peers = record.members.filter((m) => m.role === 'control-plane').map((m) => ({ip: m.ip, name: m.name}))
    const files = await controlPlaneFiles(ca, record.spec, node, {...pki, etcdPeers: peers, first: false})
    out(c,
      '[download-certs] Saving the certificates to the folder: "/etc/kubernetes/pki"',
      '[certs] Using certificateDir folder "/etc/kubernetes/pki"',
      ...['front-proxy-client', 'etcd/server', 'etcd/peer', 'etcd/healthcheck-client', 'apiserver-etcd-client', 'apiserver', 'apiserver-kubelet-client'].map((n) => `[certs] Generating "${n}" certificate and key`),
      '[certs] Valid certificates and keys now exist in "/etc/kubernetes/pki"',
      '[certs] Using the existing "sa" key',
      '[kubeconfig] Generating kubeconfig files',
      '[kubeconfig] Using kubeconfig folder "/etc/kubernetes"',
      '[kubeconfig] Writing "admin.conf" kubeconfig file',
      '[kubeconfig] Writing "controller-manager.conf" kubeconfig file',
      '[kubeconfig] Writing "scheduler.conf" kubeconfig file',
      '[control-plane] Using manifest folder "/etc/kubernetes/manifests"',
      '[control-plane] Creating static Pod manifest for "kube-apiserver"',
      '[control-plane] Creating static Pod manifest for "kube-controller-manager"',
      '[control-plane] Creating static Pod manifest for "kube-scheduler"',
      '[check-etcd] Checking that the etcd cluster is healthy',
    )
    const endpoints = await checkEtcd(c, running)
    // The etcd manifest comes once the member is added: a member that starts first is refused by the cluster.
    const etcdManifest = '/etc/kubernetes/manifests/etcd.yaml'
    const etcdFile = files.get(etcdManifest)!
    files.delete(etcdManifest)
    await writeNodeFiles(c, files)
    await startKubelet(c)
    kubeletCheck(c)
    out(c, '[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap')
    await joinMember(c, running, endpoints, node, () => writeVmFiles(c.vm.root, [[etcdManifest, etcdFile]]))
    files.set(etcdManifest, etcdFile)
    record.members = [...record.members.filter((m) => m.vmid !== c.vm.vmid), {ip: node.ip, name: nodeName, role: 'control-plane', vmid: c.vm.vmid}]
    c.lab.clusters.save(record)
    await markControlPlane(c, running, nodeName, files)
    c.session.out(JOIN_CONTROL_PLANE_DONE)
  } else {
    const files = await workerFiles(ca, record.spec, node, pki)
    await writeNodeFiles(c, files)
    await startKubelet(c)
    kubeletCheck(c)
    out(c, '[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap')
    record.members = [...record.members.filter((m) => m.vmid !== c.vm.vmid), {ip: node.ip, name: nodeName, role: 'worker', vmid: c.vm.vmid}]
    c.lab.clusters.save(record)
    await c.lab.registerNode(c.vm)
    c.session.out(JOIN_WORKER_DONE)
  }

  c.lab.log(`kubeadm join on ${c.vm.name}: ${controlPlaneSection ? 'control plane' : 'worker'} of cluster ${record.name}`)
  return 0
}
