/**
 * `kubeadm init --config FILE [--upload-certs]` in the lab, phase by phase as kubeadm prints them:
 * preflight on the node, the cluster's PKI (pki.ts) and the node's files (node-files.ts) written
 * into the VM, the kubelet (re)started through the VM's systemctl, the cluster's API server
 * started on the control-plane endpoint, and what kubeadm creates in it.
 */
import {isIP} from 'node:net'

import {stringify} from 'yaml'

import {generateBootstrapToken, generateCertificateKey} from '../../kubeadm/secrets.js'
import {splitHostPort} from '../../kubeadm/net.js'
import {flagBool, flagString, mixedWithConfig, parseDuration} from './argv.js'
import {type Call, controlPlaneChecks, etcdChecks, fail, finishPreflight, kubeletChecks, kubeletServing, loadConfig, out, portInUse, rootCheck} from './context.js'
import {controlPlaneFiles, type LabClusterSpec, subnetAddress} from './node-files.js'
import {addons, bootstrapRbac, bootstrapTokenSecret, clusterInfo, clusterInfoKubeconfig, detachedJws, uploadConfig} from './objects.js'
import {goDuration, initDone, joinCommand, phaseError, plainError, type PreflightResult} from './output.js'
import {type EncryptionAlgorithm, ensureClusterCa} from './pki.js'
import {type ClusterRecord, rememberCertificateKey, rememberToken} from './state.js'
import {forgetEtcdCredentials} from './etcd.js'
import {waitFirstMember} from './etcd-phase.js'
import {kubeletCheck, markControlPlane, startKubelet, writeNodeFiles} from './node-setup.js'

type Obj = Record<string, unknown>
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {})
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)

export async function kubeadmInit(c: Call): Promise<number> {
  const mixed = mixedWithConfig(c.call)
  if (mixed) fail(c, plainError(mixed))
  if (flagString(c.call, 'config') === undefined) {
    fail(c, plainError('kp lab: the lab simulates kubeadm init with --config FILE only (kp bootstrap renders one); pass the configuration as a file'))
  }

  const config = loadConfig(c, 'init')
  const init = config.find('InitConfiguration') ?? {}
  const clusterConfiguration = config.find('ClusterConfiguration') ?? {}
  const kubelet = config.documents.find((d) => d.kind === 'KubeletConfiguration')
  const networking = obj(clusterConfiguration.networking)
  const localApi = obj(init.localAPIEndpoint)
  const nodeName = str(obj(init.nodeRegistration).name) ?? c.vm.name
  const advertise = str(localApi.advertiseAddress) ?? c.vm.ip
  const bindPort = typeof localApi.bindPort === 'number' ? localApi.bindPort : 6443
  const version = (str(clusterConfiguration.kubernetesVersion) ?? `v${c.version}`).replace(/^v/, '')
  const endpoint = str(clusterConfiguration.controlPlaneEndpoint) ?? `${advertise}:${bindPort}`
  const spec: LabClusterSpec = {
    certSans: Array.isArray(obj(clusterConfiguration.apiServer).certSANs) ? (obj(clusterConfiguration.apiServer).certSANs as string[]) : [],
    clusterName: str(clusterConfiguration.clusterName) ?? 'kubernetes',
    dnsDomain: str(networking.dnsDomain) ?? 'cluster.local',
    endpoint,
    kubeletConfigYaml: kubelet ? stringify(kubelet.data) : undefined,
    kubernetesVersion: version,
    podSubnet: str(networking.podSubnet) ?? '',
    serviceSubnet: str(networking.serviceSubnet) ?? '10.96.0.0/12',
  }
  const algorithm = str(clusterConfiguration.encryptionAlgorithm) as EncryptionAlgorithm | undefined

  out(c, `[init] Using Kubernetes version: v${version}`, '[preflight] Running pre-flight checks')
  rootCheck(c)
  const checks: PreflightResult = {errors: [], warnings: []}
  const [, kubeadmMinor = 0] = c.version.split('.').map(Number)
  if (Number(version.split('.')[1]) > kubeadmMinor) {
    checks.warnings.push({check: 'KubernetesVersion', message: `Kubernetes version is greater than kubeadm version. Please consider to upgrade kubeadm. Kubernetes version: ${version}. Kubeadm version: 1.${kubeadmMinor}.x`})
  }

  controlPlaneChecks(c.vm, bindPort, checks)
  kubeletChecks(c.vm, version, c.version, checks)
  portInUse(10_250, kubeletServing(c.vm), checks)
  etcdChecks(c.vm, checks)
  finishPreflight(c, checks)

  // The lab answers the endpoint itself (the VIP in front of the control planes, on the bridge):
  // a second cluster cannot take an endpoint another control plane already serves.
  const existing = c.lab.clusters.byEndpoint(endpoint) ?? c.lab.clusters.get(spec.clusterName)
  if (existing && existing.record.members.some((m) => m.role === 'control-plane' && m.vmid !== c.vm.vmid)) {
    const first = existing.record.members.find((m) => m.vmid === existing.record.initVmid)?.name ?? 'another node'
    fail(c, phaseError('preflight', `kp lab: the control-plane endpoint ${endpoint} already serves the cluster "${existing.record.name}" that ${first} initialised; join this node to it (kubeadm join), or kubeadm reset every control plane of that cluster first`))
  }

  out(c, '[preflight] Pulling images required for setting up a Kubernetes cluster', '[preflight] This might take a minute or two, depending on the speed of your internet connection', "[preflight] You can also perform this action beforehand using 'kubeadm config images pull'")
  const parts = splitHostPort(endpoint)
  if ('error' in parts) fail(c, plainError(`kp lab: the control-plane endpoint ${parts.error}`))

  // A new cluster: a new CA, new API state. An old one of the same name is gone (its control planes were reset).
  if (existing) await c.lab.clusters.stop(existing.record.name)
  c.lab.clusters.store.remove(spec.clusterName)
  forgetEtcdCredentials(c.lab.clusters.store.pkiDir(spec.clusterName))
  const record: ClusterRecord = {
    certDays: c.lab.certDays,
    clusterConfiguration: {...clusterConfiguration, controlPlaneEndpoint: endpoint, kubernetesVersion: `v${version}`},
    endpoint,
    initVmid: c.vm.vmid,
    members: [],
    name: spec.clusterName,
    spec,
    tokens: [],
    ...(algorithm ? {encryptionAlgorithm: algorithm} : {}),
  }
  const pki = {caDays: 3650, certDays: c.lab.certDays, ...(algorithm ? {encryptionAlgorithm: algorithm} : {})}
  const ca = await ensureClusterCa(c.lab.clusters.store.pkiDir(spec.clusterName), pki)
  const node = {ip: advertise, name: nodeName}
  const files = await controlPlaneFiles(ca, spec, node, {...pki, first: true})

  const dnsNames = [nodeName, 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${spec.dnsDomain}`, ...(spec.certSans ?? []).filter((n) => !isIP(n))]
  const ips = [subnetAddress(spec.serviceSubnet, 1), advertise, ...(isIP(parts.host) ? [parts.host] : []), ...(spec.certSans ?? []).filter((n) => isIP(n))]
  const etcdNames = `DNS names [${nodeName} localhost] and IPs [${advertise} 127.0.0.1 ::1]`
  out(c,
    '[certs] Using certificateDir folder "/etc/kubernetes/pki"',
    '[certs] Generating "ca" certificate and key',
    '[certs] Generating "apiserver" certificate and key',
    `[certs] apiserver serving cert is signed for DNS names [${[...new Set(dnsNames)].join(' ')}] and IPs [${[...new Set(ips)].join(' ')}]`,
    '[certs] Generating "apiserver-kubelet-client" certificate and key',
    '[certs] Generating "front-proxy-ca" certificate and key',
    '[certs] Generating "front-proxy-client" certificate and key',
    '[certs] Generating "etcd/ca" certificate and key',
    '[certs] Generating "etcd/server" certificate and key',
    `[certs] etcd/server serving cert is signed for ${etcdNames}`,
    '[certs] Generating "etcd/peer" certificate and key',
    `[certs] etcd/peer serving cert is signed for ${etcdNames}`,
    '[certs] Generating "etcd/healthcheck-client" certificate and key',
    '[certs] Generating "apiserver-etcd-client" certificate and key',
    '[certs] Generating "sa" key and public key',
    '[kubeconfig] Using kubeconfig folder "/etc/kubernetes"',
    '[kubeconfig] Writing "admin.conf" kubeconfig file',
    ...(files.has('/etc/kubernetes/super-admin.conf') ? ['[kubeconfig] Writing "super-admin.conf" kubeconfig file'] : []),
    '[kubeconfig] Writing "kubelet.conf" kubeconfig file',
    '[kubeconfig] Writing "controller-manager.conf" kubeconfig file',
    '[kubeconfig] Writing "scheduler.conf" kubeconfig file',
    '[etcd] Creating static Pod manifest for local etcd in "/etc/kubernetes/manifests"',
    '[control-plane] Using manifest folder "/etc/kubernetes/manifests"',
    '[control-plane] Creating static Pod manifest for "kube-apiserver"',
    '[control-plane] Creating static Pod manifest for "kube-controller-manager"',
    '[control-plane] Creating static Pod manifest for "kube-scheduler"',
  )
  await writeNodeFiles(c, files)
  await startKubelet(c)
  out(c, '[wait-control-plane] Waiting for the kubelet to boot up the control plane as static Pods from directory "/etc/kubernetes/manifests"')
  kubeletCheck(c)
  // The kubelet runs etcd from its manifest; the API server cannot start without it.
  await waitFirstMember(c, record, node)
  let running
  try {
    running = await c.lab.clusters.start({...record, members: [{ip: advertise, name: nodeName, role: 'control-plane', vmid: c.vm.vmid}]}, ca)
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error)
    fail(c, phaseError('wait-control-plane', `kp lab: cannot serve the control-plane endpoint ${endpoint} on the lab host (${why}); the lab answers its virtual IP, the controlPlaneEndpoint of the lab's kp.yaml`))
  }

  const started = Date.now()
  out(c, '[api-check] Waiting for a healthy API server. This can take up to 4m0s', `[api-check] The API server is healthy after ${goDuration(Date.now() - started + 1500)}`)
  const {cluster} = running.kube
  const kubeletYaml = files.get('/var/lib/kubelet/config.yaml')?.content ?? ''
  uploadConfig(cluster, record.clusterConfiguration, kubeletYaml)
  out(c,
    '[upload-config] Storing the configuration used in ConfigMap "kubeadm-config" in the "kube-system" Namespace',
    '[kubelet] Creating a ConfigMap "kubelet-config" in namespace kube-system with the configuration for the kubelets in the cluster',
  )
  const uploadCerts = flagBool(c.call, 'upload-certs')
  let certificateKey: string | undefined
  if (uploadCerts) {
    certificateKey = str(init.certificateKey) ?? flagString(c.call, 'certificate-key') ?? generateCertificateKey()
    rememberCertificateKey(record, certificateKey)
    out(c, '[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace')
    if (!flagBool(c.call, 'skip-certificate-key-print')) out(c, '[upload-certs] Using certificate key:', certificateKey)
  } else {
    out(c, '[upload-certs] Skipping phase. Please see --upload-certs')
  }

  record.members = [{ip: advertise, name: nodeName, role: 'control-plane', vmid: c.vm.vmid}]
  c.lab.clusters.save(record)
  await markControlPlane(c, running, nodeName, files)

  const tokens = Array.isArray(init.bootstrapTokens) && init.bootstrapTokens.length > 0 ? (init.bootstrapTokens as Obj[]) : [{}]
  const signatures: Record<string, string> = {}
  const plain: string[] = []
  for (const t of tokens) {
    const token = str(t.token) ?? generateBootstrapToken()
    const ttl = parseDuration(str(t.ttl) ?? '24h0m0s') ?? 86_400_000
    const stored = rememberToken(record, token, {description: str(t.description), groups: Array.isArray(t.groups) ? (t.groups as string[]) : undefined, ttlMs: ttl, usages: Array.isArray(t.usages) ? (t.usages as string[]) : undefined})
    bootstrapTokenSecret(cluster, stored)
    const [id = '', secret = ''] = token.split('.')
    signatures[id] = detachedJws(clusterInfoKubeconfig(endpoint, ca.ca.certPem), id, secret)
    plain.push(token)
  }

  c.lab.clusters.save(record)
  if (!flagBool(c.call, 'skip-token-print')) out(c, `[bootstrap-token] Using token: ${plain[0]}`)
  bootstrapRbac(cluster)
  clusterInfo(cluster, endpoint, ca.ca.certPem, signatures)
  out(c,
    '[bootstrap-token] Configuring bootstrap tokens, cluster-info ConfigMap, RBAC Roles',
    '[bootstrap-token] Configured RBAC rules to allow Node Bootstrap tokens to get nodes',
    '[bootstrap-token] Configured RBAC rules to allow Node Bootstrap tokens to post CSRs in order for nodes to get long term certificate credentials',
    '[bootstrap-token] Configured RBAC rules to allow the csrapprover controller automatically approve CSRs from a Node Bootstrap Token',
    '[bootstrap-token] Configured RBAC rules to allow certificate rotation for all node client certificates in the cluster',
    '[bootstrap-token] Creating the "cluster-info" ConfigMap in the "kube-public" namespace',
    '[kubelet-finalize] Updating "/etc/kubernetes/kubelet.conf" to point to a rotatable kubelet client certificate and key',
  )
  addons(cluster, {dnsDomain: spec.dnsDomain ?? 'cluster.local', dnsIp: subnetAddress(spec.serviceSubnet, 10), kubernetesVersion: version, podSubnet: spec.podSubnet, serviceSubnet: spec.serviceSubnet})
  out(c, '[addons] Applied essential addon: CoreDNS', '[addons] Applied essential addon: kube-proxy')

  const skipTokenPrint = flagBool(c.call, 'skip-token-print')
  for (const token of plain) {
    const base = {caCertHash: ca.caCertHash, endpoint, skipTokenPrint, token}
    c.session.out(initDone({
      controlPlaneEndpoint: str(clusterConfiguration.controlPlaneEndpoint) !== undefined,
      joinControlPlane: joinCommand({...base, certificateKey, controlPlane: true, skipCertificateKeyPrint: flagBool(c.call, 'skip-certificate-key-print')}),
      joinWorker: joinCommand({...base, controlPlane: false}),
      uploadCerts,
    }))
  }

  c.lab.log(`kubeadm init on ${c.vm.name}: cluster ${spec.clusterName} at ${endpoint}`)
  return 0
}
