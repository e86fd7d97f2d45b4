/**
 * A kubeadm certificate tree made with openssl, under a temp root: the CAs (shared by the nodes, as
 * kubeadm copies them), each node's leaves, kubeconfigs with embedded client certificates and keys,
 * the kubelet's PEM (key and certificate in one file) and its config. Real files, so the read
 * script, the chains and the SANs are tested on what kubeadm would have written.
 */
import {execFileSync} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {KUBEADM_CAS, KUBEADM_CERTIFICATES, KUBELET_CLIENT_CERTIFICATE, KUBELET_CONFIG, type CaName} from '../../src/lib/certs/index.js'

const openssl = (args: string[]) => execFileSync('openssl', args, {stdio: ['ignore', 'pipe', 'pipe']})
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']

/** A folder of CAs: `<name>.crt` and `<name>.key` for ca, etcd-ca and front-proxy-ca. */
export function makeCas(dir: string, days = 3650): string {
  mkdirSync(dir, {recursive: true})
  for (const ca of KUBEADM_CAS) openssl(['req', '-x509', ...EC, '-keyout', `${dir}/${ca.name}.key`, '-out', `${dir}/${ca.name}.crt`, '-subj', `/CN=${ca.name}`, '-days', String(days)])
  return dir
}

/** A leaf signed by a CA of `cas`; returns the certificate and the key as PEM text. */
export function makeLeaf(cas: string, ca: CaName, cn: string, days: number, sans?: string[]): {cert: string; key: string} {
  const tmp = path.join(cas, `leaf-${Math.random().toString(36).slice(2)}`)
  openssl(['req', ...EC, '-keyout', `${tmp}.key`, '-out', `${tmp}.csr`, '-subj', `/CN=${cn}`])
  writeFileSync(`${tmp}.ext`, sans ? `subjectAltName=${sans.join(',')}\n` : 'basicConstraints=CA:FALSE\n')
  openssl(['x509', '-req', '-in', `${tmp}.csr`, '-CA', `${cas}/${ca}.crt`, '-CAkey', `${cas}/${ca}.key`, '-CAcreateserial', '-days', String(days), '-out', `${tmp}.crt`, '-extfile', `${tmp}.ext`])
  return {cert: readFileSync(`${tmp}.crt`, 'utf8'), key: readFileSync(`${tmp}.key`, 'utf8')}
}

export interface NodePkiOptions {
  cas: string
  /** Days every leaf lives (kubeadm: 365; the lab's --cert-days). */
  days: number
  /** Override one leaf's lifetime by kubeadm name. */
  daysOf?: Record<string, number>
  controlPlane: boolean
  apiserverSans: string[]
  kubeletRotates?: boolean
}

/** Writes a node's files under `root` (root + kubeadm's absolute paths); returns the leaves by name. */
export function makeNodePki(root: string, options: NodePkiOptions): Map<string, {cert: string; key: string}> {
  const put = (file: string, text: string) => {
    mkdirSync(path.dirname(root + file), {recursive: true})
    writeFileSync(root + file, text, {mode: 0o600})
  }

  const b64 = (s: string) => Buffer.from(s).toString('base64')
  const leaves = new Map<string, {cert: string; key: string}>()
  put(KUBEADM_CAS[0]!.path, readFileSync(`${options.cas}/ca.crt`, 'utf8'))
  if (options.controlPlane) {
    for (const ca of KUBEADM_CAS) {
      put(ca.path, readFileSync(`${options.cas}/${ca.name}.crt`, 'utf8'))
      put(ca.path.replace(/\.crt$/, '.key'), readFileSync(`${options.cas}/${ca.name}.key`, 'utf8'))
    }

    for (const file of KUBEADM_CERTIFICATES) {
      const leaf = makeLeaf(options.cas, file.ca, file.name, options.daysOf?.[file.name] ?? options.days, file.name === 'apiserver' ? options.apiserverSans : undefined)
      leaves.set(file.name, leaf)
      if (file.path.endsWith('.conf')) {
        put(file.path, `apiVersion: v1\nkind: Config\nusers:\n- name: x\n  user:\n    client-certificate-data: ${b64(leaf.cert)}\n    client-key-data: ${b64(leaf.key)}\n`)
      } else {
        put(file.path, leaf.cert)
        put(file.path.replace(/\.crt$/, '.key'), leaf.key)
      }
    }
  }

  const kubelet = makeLeaf(options.cas, 'ca', 'system:node', options.daysOf?.['kubelet-client'] ?? options.days)
  leaves.set('kubelet-client', kubelet)
  put(KUBELET_CLIENT_CERTIFICATE, `${kubelet.key}${kubelet.cert}`)
  put(KUBELET_CONFIG, `apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nrotateCertificates: ${options.kubeletRotates ?? true}\n`)
  return leaves
}
