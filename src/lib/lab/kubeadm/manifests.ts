/**
 * The static pod manifests `kubeadm init`/`join --control-plane` writes to /etc/kubernetes/manifests:
 * etcd, kube-apiserver, kube-controller-manager and kube-scheduler, with kubeadm's images, flags,
 * probes, host-path volumes and annotations, so whoever reads them on a lab node (or `kubectl get
 * pod -o yaml` on the mirror pods) sees what a kubeadm cluster has. The lab kubelet runs etcd's
 * with exactly this command (static-pods.ts); the other three stand for the lab's own API server.
 */
import {stringify} from 'yaml'

import {DEFAULT_API_PORT} from '../../config/defaults.js'
import {minorOf} from '../../kubernetes-versions.js'
import type {LabClusterSpec, LabNode} from './node-files.js'

const PKI = '/etc/kubernetes/pki'

/** The etcd image kubeadm pins per Kubernetes minor (`kubeadm config images list`). */
const ETCD: Record<string, string> = {'1.30': '3.5.15-0', '1.31': '3.5.15-0', '1.32': '3.5.16-0', '1.33': '3.5.21-0'}

export function etcdImage(kubernetesVersion: string): string {
  const minor = minorOf(kubernetesVersion)
  const known = Object.keys(ETCD).sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]))
  // Outside the table, the nearest known minor: older releases get the oldest, newer the newest.
  const key = ETCD[minor] ? minor : Number(minor.split('.')[1]) < Number(known[0]!.split('.')[1]) ? known[0]! : known.at(-1)!
  return `registry.k8s.io/etcd:${ETCD[key]}`
}

export interface ManifestOptions {
  /** The etcd members already in the cluster when this control plane joins; none for `kubeadm init`. */
  etcdPeers?: readonly LabNode[]
}

type HostPathType = 'Directory' | 'DirectoryOrCreate' | 'FileOrCreate'
interface Volume {mountPath: string; name: string; path: string; readOnly?: boolean; type: HostPathType}

// The CA bundles kubeadm mounts into the API server and controller manager on Debian.
const CA_VOLUMES: Volume[] = [
  {mountPath: '/etc/ssl/certs', name: 'ca-certs', path: '/etc/ssl/certs', readOnly: true, type: 'DirectoryOrCreate'},
  {mountPath: '/etc/ca-certificates', name: 'etc-ca-certificates', path: '/etc/ca-certificates', readOnly: true, type: 'DirectoryOrCreate'},
  {mountPath: PKI, name: 'k8s-certs', path: PKI, readOnly: true, type: 'DirectoryOrCreate'},
  {mountPath: '/usr/local/share/ca-certificates', name: 'usr-local-share-ca-certificates', path: '/usr/local/share/ca-certificates', readOnly: true, type: 'DirectoryOrCreate'},
  {mountPath: '/usr/share/ca-certificates', name: 'usr-share-ca-certificates', path: '/usr/share/ca-certificates', readOnly: true, type: 'DirectoryOrCreate'},
]

interface Probe {host: string; path: string; port: number; scheme: 'HTTP' | 'HTTPS'}

function probe(p: Probe, failureThreshold: number, extra: Record<string, number> = {}) {
  return {failureThreshold, httpGet: {host: p.host, path: p.path, port: p.port, scheme: p.scheme}, ...extra, timeoutSeconds: 15}
}

function staticPod(name: string, options: {annotations?: Record<string, string>; command: string[]; image: string; live: Probe; ready?: Probe; requests: Record<string, string>; startup?: Probe; volumes: Volume[]}): string {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...(options.annotations ? {annotations: options.annotations} : {}),
      labels: {component: name, tier: 'control-plane'},
      name,
      namespace: 'kube-system',
    },
    spec: {
      containers: [{
        command: options.command,
        image: options.image,
        imagePullPolicy: 'IfNotPresent',
        livenessProbe: probe(options.live, 8, {initialDelaySeconds: 10, periodSeconds: 10}),
        name,
        ...(options.ready ? {readinessProbe: probe(options.ready, 3, {periodSeconds: 1})} : {}),
        resources: {requests: options.requests},
        startupProbe: probe(options.startup ?? options.live, 24, {initialDelaySeconds: 10, periodSeconds: 10}),
        volumeMounts: options.volumes.map((v) => ({mountPath: v.mountPath, name: v.name, ...(v.readOnly ? {readOnly: true} : {})})),
      }],
      hostNetwork: true,
      priority: 2_000_001_000,
      priorityClassName: 'system-node-critical',
      securityContext: {seccompProfile: {type: 'RuntimeDefault'}},
      volumes: options.volumes.map((v) => ({hostPath: {path: v.path, type: v.type}, name: v.name})),
    },
    status: {},
  }
  return stringify(pod, {indentSeq: false, lineWidth: 0})
}

/** An IPv6 address in a URL or host:port needs brackets. */
function urlHost(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip
}

function etcd(spec: LabClusterSpec, node: LabNode, options: ManifestOptions): string {
  const ip = urlHost(node.ip)
  const peers = (options.etcdPeers ?? []).filter((p) => p.name !== node.name)
  const initialCluster = [...peers, node].map((m) => `${m.name}=https://${urlHost(m.ip)}:2380`).join(',')
  const command = [
    'etcd',
    `--advertise-client-urls=https://${ip}:2379`,
    `--cert-file=${PKI}/etcd/server.crt`,
    '--client-cert-auth=true',
    '--data-dir=/var/lib/etcd',
    '--experimental-initial-corrupt-check=true',
    '--experimental-watch-progress-notify-interval=5s',
    `--initial-advertise-peer-urls=https://${ip}:2380`,
    `--initial-cluster=${initialCluster}`,
    // A member that joins an existing cluster must not bootstrap a new one.
    ...(peers.length > 0 ? ['--initial-cluster-state=existing'] : []),
    `--key-file=${PKI}/etcd/server.key`,
    `--listen-client-urls=https://127.0.0.1:2379,https://${ip}:2379`,
    '--listen-metrics-urls=http://127.0.0.1:2381',
    `--listen-peer-urls=https://${ip}:2380`,
    `--name=${node.name}`,
    `--peer-cert-file=${PKI}/etcd/peer.crt`,
    '--peer-client-cert-auth=true',
    `--peer-key-file=${PKI}/etcd/peer.key`,
    `--peer-trusted-ca-file=${PKI}/etcd/ca.crt`,
    '--snapshot-count=10000',
    `--trusted-ca-file=${PKI}/etcd/ca.crt`,
  ]
  return staticPod('etcd', {
    annotations: {'kubeadm.kubernetes.io/etcd.advertise-client-urls': `https://${ip}:2379`},
    command,
    image: etcdImage(spec.kubernetesVersion),
    live: {host: '127.0.0.1', path: '/health?exclude=NOSPACE&serializable=true', port: 2381, scheme: 'HTTP'},
    requests: {cpu: '100m', memory: '100Mi'},
    startup: {host: '127.0.0.1', path: '/health?serializable=false', port: 2381, scheme: 'HTTP'},
    volumes: [
      {mountPath: '/var/lib/etcd', name: 'etcd-data', path: '/var/lib/etcd', type: 'DirectoryOrCreate'},
      {mountPath: `${PKI}/etcd`, name: 'etcd-certs', path: `${PKI}/etcd`, type: 'DirectoryOrCreate'},
    ],
  })
}

function apiServer(spec: LabClusterSpec, node: LabNode): string {
  const dnsDomain = spec.dnsDomain ?? 'cluster.local'
  const command = [
    'kube-apiserver',
    `--advertise-address=${node.ip}`,
    '--allow-privileged=true',
    '--authorization-mode=Node,RBAC',
    `--client-ca-file=${PKI}/ca.crt`,
    '--enable-admission-plugins=NodeRestriction',
    '--enable-bootstrap-token-auth=true',
    `--etcd-cafile=${PKI}/etcd/ca.crt`,
    `--etcd-certfile=${PKI}/apiserver-etcd-client.crt`,
    `--etcd-keyfile=${PKI}/apiserver-etcd-client.key`,
    // Stacked etcd: every API server talks to its own member only.
    '--etcd-servers=https://127.0.0.1:2379',
    `--kubelet-client-certificate=${PKI}/apiserver-kubelet-client.crt`,
    `--kubelet-client-key=${PKI}/apiserver-kubelet-client.key`,
    '--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname',
    `--proxy-client-cert-file=${PKI}/front-proxy-client.crt`,
    `--proxy-client-key-file=${PKI}/front-proxy-client.key`,
    '--requestheader-allowed-names=front-proxy-client',
    `--requestheader-client-ca-file=${PKI}/front-proxy-ca.crt`,
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-username-headers=X-Remote-User',
    `--secure-port=${DEFAULT_API_PORT}`,
    `--service-account-issuer=https://kubernetes.default.svc.${dnsDomain}`,
    `--service-account-key-file=${PKI}/sa.pub`,
    `--service-account-signing-key-file=${PKI}/sa.key`,
    `--service-cluster-ip-range=${spec.serviceSubnet}`,
    `--tls-cert-file=${PKI}/apiserver.crt`,
    `--tls-private-key-file=${PKI}/apiserver.key`,
  ]
  const probeOn = (p: string): Probe => ({host: node.ip, path: p, port: DEFAULT_API_PORT, scheme: 'HTTPS'})
  return staticPod('kube-apiserver', {
    annotations: {'kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint': `${urlHost(node.ip)}:${DEFAULT_API_PORT}`},
    command,
    image: `registry.k8s.io/kube-apiserver:v${spec.kubernetesVersion}`,
    live: probeOn('/livez'),
    ready: probeOn('/readyz'),
    requests: {cpu: '250m'},
    volumes: CA_VOLUMES,
  })
}

function controllerManager(spec: LabClusterSpec): string {
  const conf = '/etc/kubernetes/controller-manager.conf'
  const command = [
    'kube-controller-manager',
    // Pod CIDRs per node only when the cluster has a pod subnet (kubeadm's rule).
    ...(spec.podSubnet ? ['--allocate-node-cidrs=true'] : []),
    `--authentication-kubeconfig=${conf}`,
    `--authorization-kubeconfig=${conf}`,
    '--bind-address=127.0.0.1',
    `--client-ca-file=${PKI}/ca.crt`,
    ...(spec.podSubnet ? [`--cluster-cidr=${spec.podSubnet}`] : []),
    `--cluster-name=${spec.clusterName}`,
    `--cluster-signing-cert-file=${PKI}/ca.crt`,
    `--cluster-signing-key-file=${PKI}/ca.key`,
    '--controllers=*,bootstrapsigner,tokencleaner',
    `--kubeconfig=${conf}`,
    '--leader-elect=true',
    `--requestheader-client-ca-file=${PKI}/front-proxy-ca.crt`,
    `--root-ca-file=${PKI}/ca.crt`,
    `--service-account-private-key-file=${PKI}/sa.key`,
    `--service-cluster-ip-range=${spec.serviceSubnet}`,
    '--use-service-account-credentials=true',
  ]
  return staticPod('kube-controller-manager', {
    command,
    image: `registry.k8s.io/kube-controller-manager:v${spec.kubernetesVersion}`,
    live: {host: '127.0.0.1', path: '/healthz', port: 10_257, scheme: 'HTTPS'},
    requests: {cpu: '200m'},
    volumes: [
      ...CA_VOLUMES.slice(0, 2),
      {mountPath: '/usr/libexec/kubernetes/kubelet-plugins/volume/exec', name: 'flexvolume-dir', path: '/usr/libexec/kubernetes/kubelet-plugins/volume/exec', type: 'DirectoryOrCreate'},
      ...CA_VOLUMES.slice(2, 3),
      {mountPath: conf, name: 'kubeconfig', path: conf, readOnly: true, type: 'FileOrCreate'},
      ...CA_VOLUMES.slice(3),
    ],
  })
}

function scheduler(spec: LabClusterSpec): string {
  const conf = '/etc/kubernetes/scheduler.conf'
  return staticPod('kube-scheduler', {
    command: ['kube-scheduler', `--authentication-kubeconfig=${conf}`, `--authorization-kubeconfig=${conf}`, '--bind-address=127.0.0.1', `--kubeconfig=${conf}`, '--leader-elect=true'],
    image: `registry.k8s.io/kube-scheduler:v${spec.kubernetesVersion}`,
    live: {host: '127.0.0.1', path: '/healthz', port: 10_259, scheme: 'HTTPS'},
    requests: {cpu: '100m'},
    volumes: [{mountPath: conf, name: 'kubeconfig', path: conf, readOnly: true, type: 'FileOrCreate'}],
  })
}

/** The four manifests by file name (`etcd.yaml`, `kube-apiserver.yaml`, …). */
export function staticPodManifests(spec: LabClusterSpec, node: LabNode, options: ManifestOptions = {}): Map<string, string> {
  return new Map([
    ['etcd.yaml', etcd(spec, node, options)],
    ['kube-apiserver.yaml', apiServer(spec, node)],
    ['kube-controller-manager.yaml', controllerManager(spec)],
    ['kube-scheduler.yaml', scheduler(spec)],
  ])
}
