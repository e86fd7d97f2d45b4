/**
 * The certificates kubeadm manages, by kubeadm's own names (`kubeadm certs check-expiration`), with
 * the file each lives in and the CA that signs it. kubeconfig files hold their client certificate
 * embedded (client-certificate-data); everything else is a PEM file under /etc/kubernetes/pki.
 */
export const PKI = '/etc/kubernetes/pki'

export type CaName = 'ca' | 'etcd-ca' | 'front-proxy-ca'

export interface CertificateFile {
  /** kubeadm's name: `apiserver`, `admin.conf`, … */
  name: string
  path: string
  ca: CaName
  /** Which server presents it in its TLS handshake (compared with what is on disk). */
  servedBy?: 'apiserver' | 'etcd'
}

export interface CaFile {
  name: CaName
  path: string
}

export const KUBEADM_CAS: readonly CaFile[] = [
  {name: 'ca', path: `${PKI}/ca.crt`},
  {name: 'etcd-ca', path: `${PKI}/etcd/ca.crt`},
  {name: 'front-proxy-ca', path: `${PKI}/front-proxy-ca.crt`},
]

/** In kubeadm's order (alphabetical, as check-expiration prints them). */
export const KUBEADM_CERTIFICATES: readonly CertificateFile[] = [
  {ca: 'ca', name: 'admin.conf', path: '/etc/kubernetes/admin.conf'},
  {ca: 'ca', name: 'apiserver', path: `${PKI}/apiserver.crt`, servedBy: 'apiserver'},
  {ca: 'etcd-ca', name: 'apiserver-etcd-client', path: `${PKI}/apiserver-etcd-client.crt`},
  {ca: 'ca', name: 'apiserver-kubelet-client', path: `${PKI}/apiserver-kubelet-client.crt`},
  {ca: 'ca', name: 'controller-manager.conf', path: '/etc/kubernetes/controller-manager.conf'},
  {ca: 'etcd-ca', name: 'etcd-healthcheck-client', path: `${PKI}/etcd/healthcheck-client.crt`},
  {ca: 'etcd-ca', name: 'etcd-peer', path: `${PKI}/etcd/peer.crt`},
  {ca: 'etcd-ca', name: 'etcd-server', path: `${PKI}/etcd/server.crt`, servedBy: 'etcd'},
  {ca: 'front-proxy-ca', name: 'front-proxy-client', path: `${PKI}/front-proxy-client.crt`},
  {ca: 'ca', name: 'scheduler.conf', path: '/etc/kubernetes/scheduler.conf'},
  {ca: 'ca', name: 'super-admin.conf', path: '/etc/kubernetes/super-admin.conf'},
]

/** The kubelet's client certificate (and key) on every node, rotated by the kubelet itself when enabled. */
export const KUBELET_CLIENT_CERTIFICATE = '/var/lib/kubelet/pki/kubelet-client-current.pem'
export const KUBELET_CONFIG = '/var/lib/kubelet/config.yaml'

/** The ports the served certificates are read from. */
export const APISERVER_PORT = 6443
export const ETCD_CLIENT_PORT = 2379
