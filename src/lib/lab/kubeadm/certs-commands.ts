/**
 * `kubeadm certs check-expiration [-o json|yaml]` and `kubeadm certs renew all|NAME` on the calling
 * node's files (certs.ts). As kubeadm, both first read the ClusterConfiguration through admin.conf
 * (or --kubeconfig) and say so; without a kubeconfig they go on silently with the defaults, with
 * one the API server refuses (not running, or its client certificate expired) they say they fall
 * back to them. The renewal's lifetime is kubeadm's default certificateValidityPeriod, a year.
 */
import {X509Certificate} from 'node:crypto'

import {stringify} from 'yaml'

import {minorOf} from '../../kubernetes-versions.js'
import {flagString} from './argv.js'
import {type Call, fail, out} from './context.js'
import {CERTIFICATES, DONE_RENEWING, expirationInfo, expirationJson, expirationText, readHandlerCert, renewCertificate} from './certs.js'
import {plainError} from './output.js'
import {kubeconfigServer} from './vm.js'
import {readVmFile} from './vm-files.js'

/** Whether kubeadm could read the kubeadm-config ConfigMap through the kubeconfig. */
function clusterReachable(c: Call, file: string): boolean | undefined {
  if (readVmFile(c.vm.root, file) === undefined) return undefined
  const server = kubeconfigServer(c.vm.root, file) ?? ''
  if (!c.lab.clusters.byEndpoint(server)) return false
  const admin = CERTIFICATES.find((h) => 'kubeconfig' in h.file && h.file.kubeconfig === file)
  const pem = admin ? readHandlerCert(c.vm.root, admin) : undefined
  // An expired client certificate is refused by the API server's TLS handshake.
  return pem === undefined || new Date(new X509Certificate(pem).validTo).getTime() > Date.now()
}

/** getInternalCfg's lines (on stdout as kubeadm prints them; on stderr when stdout must stay JSON or YAML). */
function readConfiguration(c: Call, prefix: string, print: (text: string) => void): void {
  const reachable = clusterReachable(c, flagString(c.call, 'kubeconfig') ?? '/etc/kubernetes/admin.conf')
  if (reachable === undefined) return
  if (!reachable) {
    print(`[${prefix}] Error reading configuration from the Cluster. Falling back to default configuration\n\n`)
    return
  }

  // kubeadm 1.31 reworded these lines.
  print(Number(minorOf(c.version).split('.')[1]) >= 31
    ? `[${prefix}] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...\n[${prefix}] Use 'kubeadm init phase upload-config --config your-config-file' to re-upload it.\n\n`
    : `[${prefix}] Reading configuration from the cluster...\n[${prefix}] FYI: You can look at this config file with 'kubectl -n kube-system get cm kubeadm-config -o yaml'\n\n`)
}

const FORMATS = 'go-template, go-template-file, json, jsonpath, jsonpath-as-json, jsonpath-file, name, template, templatefile, text, yaml'

export function certsCheckExpiration(c: Call): number {
  const format = flagString(c.call, 'output') ?? 'text'
  if (!['json', 'text', 'yaml'].includes(format)) fail(c, plainError(`unable to match a printer suitable for the output format "${format}", allowed formats are: ${FORMATS}`))
  readConfiguration(c, 'check-expiration', format === 'text' ? (t) => c.session.out(t) : (t) => c.session.err(t))
  const info = expirationInfo(c.vm.root)
  if (format === 'text') c.session.out(expirationText(info))
  else if (format === 'json') c.session.out(expirationJson(info))
  else c.session.out(expirationYaml(info))
  return 0
}

function expirationYaml(info: ReturnType<typeof expirationInfo>): string {
  // cli-runtime's YAML printer goes through JSON, so the field names are the JSON ones, the keys sorted.
  return stringify(JSON.parse(expirationJson(info)), {indentSeq: false, sortMapEntries: true})
}

export async function certsRenew(c: Call): Promise<number> {
  const name = c.call.path.split(' ').at(-1)!
  readConfiguration(c, 'renew', (t) => c.session.out(t))
  const handlers = name === 'all' ? CERTIFICATES : CERTIFICATES.filter((h) => h.name === name)
  for (const handler of handlers) {
    try {
      const result = await renewCertificate(c.vm.root, handler)
      out(c, result.line)
    } catch (error) {
      fail(c, plainError(error instanceof Error ? error.message : String(error)))
    }
  }

  if (name === 'all') c.session.out(`\n${DONE_RENEWING}\n`)
  c.lab.log(`kubeadm certs renew ${name} on ${c.vm.name}`)
  return 0
}
