/**
 * The kubeadm commands that talk to a running cluster with /etc/kubernetes/admin.conf:
 * `kubeadm token create [--print-join-command]`, `token delete`, `token generate`,
 * `kubeadm init phase upload-certs --upload-certs` and `kubeadm certs certificate-key`. New
 * tokens and keys are printed on the caller's stdout and remembered only as hashes.
 */
import {BOOTSTRAP_TOKEN_PATTERN, CERTIFICATE_KEY_PATTERN, generateBootstrapToken, generateCertificateKey} from '../../kubeadm/secrets.js'
import {findResource} from '../kube/discovery.js'
import {flagBool, flagList, flagString, parseDuration} from './argv.js'
import type {RunningCluster} from './clusters.js'
import {type Call, fail, loadConfig, out} from './context.js'
import {bootstrapTokenSecret, clusterInfo, clusterInfoKubeconfig, detachedJws} from './objects.js'
import {joinCommand, oneLine, plainError} from './output.js'
import {rememberCertificateKey, rememberToken} from './state.js'
import {kubeconfigServer} from './vm.js'
import {readVmFile} from './vm-files.js'

/** The cluster admin.conf (or --kubeconfig) points at, as client-go would load and reach it. */
function adminCluster(c: Call, what: string): RunningCluster {
  const file = flagString(c.call, 'kubeconfig') ?? '/etc/kubernetes/admin.conf'
  if (readVmFile(c.vm.root, file) === undefined) fail(c, plainError(`failed to load admin kubeconfig: open ${file}: no such file or directory`))
  const server = kubeconfigServer(c.vm.root, file) ?? ''
  const running = c.lab.clusters.byEndpoint(server)
  if (!running) fail(c, plainError(`${what}: Get "https://${server}/api?timeout=32s": dial tcp ${server}: connect: connection refused`))
  return running
}

type Obj = Record<string, unknown>
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)
const strings = (v: unknown): string[] | undefined => (Array.isArray(v) && v.length > 0 ? v.map(String) : undefined)

/** The InitConfiguration of --config (token create and upload-certs take their token and key from it). */
function initConfiguration(c: Call): Obj {
  return flagString(c.call, 'config') === undefined ? {} : (loadConfig(c, 'init').find('InitConfiguration') ?? {})
}

export function tokenCreate(c: Call): number {
  // A token in the config (bootstrapTokens[0]) keeps it off the command line; flags still win.
  const fromConfig = ((initConfiguration(c).bootstrapTokens as Obj[] | undefined) ?? [])[0] ?? {}
  const given = c.call.args[0] ?? str(fromConfig.token)
  if (given !== undefined && !BOOTSTRAP_TOKEN_PATTERN.test(given)) {
    fail(c, plainError(`the bootstrap token ${JSON.stringify(given)} was not of the form ${JSON.stringify('\\A([a-z0-9]{6})\\.([a-z0-9]{16})\\z')}`))
  }

  const running = adminCluster(c, 'failed to create or update bootstrap token')
  const {record, kube, ca} = running
  const token = given ?? generateBootstrapToken()
  const ttl = parseDuration(flagString(c.call, 'ttl') ?? str(fromConfig.ttl) ?? '24h0m0s') ?? 86_400_000
  const usages = flagList(c.call, 'usages')
  const groups = flagList(c.call, 'groups')
  const stored = rememberToken(record, token, {
    description: flagString(c.call, 'description') ?? str(fromConfig.description),
    groups: groups.length > 0 ? groups : strings(fromConfig.groups),
    ttlMs: ttl,
    usages: usages.length > 0 ? usages : strings(fromConfig.usages),
  })
  c.lab.clusters.save(record)
  bootstrapTokenSecret(kube.cluster, stored)
  const [id = '', secret = ''] = token.split('.')
  clusterInfo(kube.cluster, record.endpoint, ca.ca.certPem, {[id]: detachedJws(clusterInfoKubeconfig(record.endpoint, ca.ca.certPem), id, secret)})
  const key = flagString(c.call, 'certificate-key')
  if (!flagBool(c.call, 'print-join-command')) {
    out(c, token)
  } else if (key) {
    out(c, joinCommand({caCertHash: ca.caCertHash, certificateKey: key, controlPlane: true, endpoint: record.endpoint, token}))
  } else {
    out(c, oneLine(joinCommand({caCertHash: ca.caCertHash, controlPlane: false, endpoint: record.endpoint, token})))
  }

  c.lab.log(`kubeadm token create on ${c.vm.name}: token ${id} for cluster ${record.name}`)
  return 0
}

export function tokenDelete(c: Call): number {
  if (c.call.args.length === 0) fail(c, plainError('missing argument; \'token delete\' is missing token of form "[a-z0-9]{6}" or "[a-z0-9]{6}.[a-z0-9]{16}"'))
  const {record, kube} = adminCluster(c, 'failed to delete bootstrap token')
  const secrets = findResource('', 'v1', 'secrets')
  for (const arg of c.call.args) {
    const id = arg.split('.')[0] ?? ''
    if (!record.tokens.some((t) => t.id === id)) fail(c, plainError(`failed to delete bootstrap token with name "bootstrap-token-${id}": secrets "bootstrap-token-${id}" not found`))
    record.tokens = record.tokens.filter((t) => t.id !== id)
    if (secrets && kube.cluster.find(secrets, 'kube-system', `bootstrap-token-${id}`)) kube.cluster.store.remove(secrets, 'kube-system', `bootstrap-token-${id}`)
    out(c, `bootstrap token "${id}" deleted`)
  }

  c.lab.clusters.save(record)
  return 0
}

export function tokenGenerate(c: Call): number {
  out(c, generateBootstrapToken())
  return 0
}

export function certificateKey(c: Call): number {
  out(c, generateCertificateKey())
  return 0
}

/** `kubeadm init phase upload-certs --upload-certs`: a new key (or the given one) re-encrypts kubeadm-certs, so earlier keys stop working. */
export function uploadCerts(c: Call): number {
  if (!flagBool(c.call, 'upload-certs')) {
    out(c, '[upload-certs] Skipping phase. Please see --upload-certs')
    return 0
  }

  const given = flagString(c.call, 'certificate-key') ?? str(initConfiguration(c).certificateKey)
  if (given !== undefined && !CERTIFICATE_KEY_PATTERN.test(given)) fail(c, plainError('error execution phase upload-certs: error uploading certs: error decoding certificate key: encoding/hex: invalid byte'))
  const {record} = adminCluster(c, 'error execution phase upload-certs: error uploading certs')
  const key = given ?? generateCertificateKey()
  rememberCertificateKey(record, key)
  c.lab.clusters.save(record)
  out(c, '[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace')
  if (!flagBool(c.call, 'skip-certificate-key-print')) out(c, '[upload-certs] Using certificate key:', key)
  c.lab.log(`kubeadm init phase upload-certs on ${c.vm.name}: new certificate key for cluster ${record.name}`)
  return 0
}
