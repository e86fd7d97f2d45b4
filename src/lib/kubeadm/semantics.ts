/**
 * kubeadm's checks of decoded configuration (cmd/kubeadm/app/apis/kubeadm/validation/validation.go
 * and the dynamic defaulting before it), run on the plain data of documents that decoded cleanly.
 * kubeadm validates after defaulting, so an absent value is never wrong here unless kubeadm has no
 * default for it (a join's discovery); a present one is checked the way kubeadm checks it.
 */
import {
  badAdvertiseAddress,
  badKubernetesVersion,
  caHashPrefix,
  controlPlaneTooOld,
  fieldValue,
  invalidField,
  requiredField,
} from './messages.js'
import {dns1123SubdomainErrors, ipFamily, parseCidr, rangeSize, splitHostPort, validHostPort, validPort, wildcardDns1123SubdomainErrors} from './net.js'

type Obj = Record<string, unknown>

export interface FieldProblem {
  message: string
  /** kubeadm's field path (`networking.podSubnet`, `bootstrapTokens.0.usages`). */
  path: string
}

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v)
const obj = (v: unknown): Obj => (isObj(v) ? v : {})
const text = (v: unknown): string => (typeof v === 'string' ? v : '')
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map((item) => text(item)) : [])
const invalid = (path: string, value: unknown, detail: string): FieldProblem => ({message: invalidField(path, value, detail), path})

const BOOTSTRAP_TOKEN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/
const BOOTSTRAP_GROUP = /^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$/
const TOKEN_USAGES = ['signing', 'authentication']
const PULL_POLICIES = new Set(['Always', 'IfNotPresent', 'Never'])
const UNMOUNT_FLAGS = new Set(['MNT_FORCE', 'MNT_DETACH', 'MNT_EXPIRE', 'UMOUNT_NOFOLLOW'])
// constants.go: the DNS Service is the tenth address; a /28 leaves 14 for pods.
const MIN_SERVICE_ADDRESSES = 10n
const MIN_POD_ADDRESSES = 14n
const MAX_SERVICE_HOST_BITS = 20
const POD_NODE_MASK_MAX_DIFF = 16

const KUBE_RELEASE = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)([-0-9a-zA-Z_.+]*)?$/
const KUBE_RELEASE_LABEL = /^((latest|stable)+(-[1-9](\.[1-9](\d)?)?)?)$/

const DOMAIN_PART = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
const PATH_PART = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*'
// distribution/reference's ReferenceRegexp, which kubeadm matches "<repository>/name:tag" against.
const IMAGE_REFERENCE = new RegExp(`^(?:(?:${DOMAIN_PART}(?:\\.${DOMAIN_PART})*|\\[[a-fA-F0-9:]+\\])(?::\\d+)?/)?${PATH_PART}(?:/${PATH_PART})*:\\w[\\w.-]{0,127}$`)

interface Arg {
  name: string
  value: string
}

/** Extra arguments in either shape: v1beta4's list, or v1beta3's map (converted sorted by name). */
function args(value: unknown): Arg[] {
  if (Array.isArray(value)) return value.map((item) => ({name: text(obj(item).name), value: text(obj(item).value)}))
  return Object.entries(obj(value))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, v]) => ({name, value: text(v)}))
}

/** kubeadm.GetArgValue(args, name, -1): the last value given for a flag. */
function argValue(value: unknown, name: string): string | undefined {
  return args(value).findLast((a) => a.name === name)?.value
}

function extraArgs(value: unknown, path: string): FieldProblem[] {
  return args(value).flatMap((a, i) => (a.name === '' ? [invalid(path, `index ${i}`, 'argument has no name')] : []))
}

function socketPath(socket: string, path: string): FieldProblem[] {
  // Defaulting turns a bare path into a unix:// URL before validation.
  if (socket === '' || socket.startsWith('/')) return []
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(socket)?.[1] ?? ''
  return scheme === 'unix' ? [] : [invalid(path, socket, `only URL scheme "unix" is supported, got "${scheme}"`)]
}

function nodeRegistration(nr: Obj, path: string): FieldProblem[] {
  const name = text(nr.name)
  const policy = text(nr.imagePullPolicy)
  return [
    ...(name === '' ? [] : dns1123SubdomainErrors(name).map((e) => invalid(`${path}.name`, name, e))),
    ...socketPath(text(nr.criSocket), `${path}.criSocket`),
    ...extraArgs(nr.kubeletExtraArgs, `${path}.kubeletExtraArgs`),
    ...(policy === '' || PULL_POLICIES.has(policy) ? [] : [invalid(`${path}.imagePullPolicy`, policy, 'invalid pull policy')]),
  ]
}

/** hex.DecodeString's complaint about the text, if any. */
function hexError(hex: string): string | undefined {
  const bad = [...Buffer.from(hex, 'utf8')].find((byte) => !/[0-9a-fA-F]/.test(String.fromCodePoint(byte)))
  if (bad !== undefined) return `encoding/hex: invalid byte: U+${bad.toString(16).toUpperCase().padStart(4, '0')} '${String.fromCodePoint(bad)}'`
  return hex.length % 2 === 1 ? 'encoding/hex: odd length hex string' : undefined
}

export function certificateKeyProblems(key: string, path: string): FieldProblem[] {
  if (key === '') return []
  const error = hexError(key)
  if (error) return [invalid(path, key, `certificate key decoding error: ${error}`)]
  const size = key.length / 2
  return size === 32 ? [] : [invalid(path, key, `invalid certificate key size ${size}, the key must be an AES key of size 32`)]
}

function token(value: string, path: string): FieldProblem[] {
  return BOOTSTRAP_TOKEN.test(value) ? [] : [invalid(path, value, 'the bootstrap token is invalid')]
}

function apiEndpoint(endpoint: Obj, path: string): FieldProblem[] {
  const port = endpoint.bindPort
  // 0 is "unset" and defaults to 6443.
  return typeof port === 'number' && port !== 0 && !validPort(String(port)) ? [invalid(`${path}.bindPort`, port, 'port number is not valid')] : []
}

function absolutePath(value: string, path: string): FieldProblem[] {
  return value === '' || value.startsWith('/') ? [] : [invalid(path, value, 'path is not absolute')]
}

function imageRepository(repo: string, path: string): FieldProblem[] {
  return repo === '' || IMAGE_REFERENCE.test(`${repo}/name:tag`) ? [] : [invalid(path, repo, 'invalid image repository format')]
}

function certSans(sans: string[], path: string): FieldProblem[] {
  // kubeadm lowercases SANs while defaulting, before it validates them.
  return sans.flatMap((raw) => {
    const san = raw.toLowerCase()
    const errors = dns1123SubdomainErrors(san)
    const wildcard = wildcardDns1123SubdomainErrors(san)
    if (errors.length === 0 || wildcard.length === 0 || ipFamily(san)) return []
    return [invalid(path, san, `altname is not a valid IP address, DNS label or a DNS label with subdomain wildcards: ${errors.join('; ')}; ${wildcard.join('; ')}`)]
  })
}

function subnets(value: string, minimum: bigint, path: string): FieldProblem[] {
  const parsed = value.split(',').map((s) => parseCidr(s))
  if (parsed.some((c) => c === undefined)) return [invalid(path, value, "couldn't parse subnet")]
  const cidrs = parsed.filter((c) => c !== undefined)
  const problems: FieldProblem[] = []
  if (cidrs.length > 2 || (cidrs.length === 2 && cidrs[0]!.family === cidrs[1]!.family)) {
    problems.push(invalid(path, value, 'expected one (IPv4 or IPv6) CIDR or two CIDRs from each family for dual-stack networking'))
  }

  for (const cidr of cidrs) {
    const size = rangeSize(cidr)
    if (size < minimum) problems.push(invalid(path, cidr.network, `subnet with ${size} address(es) is too small, the minimum is ${minimum}`))
  }

  return problems
}

function networking(cluster: Obj): FieldProblem[] {
  const net = obj(cluster.networking)
  const dnsDomain = text(net.dnsDomain) || 'cluster.local'
  const serviceSubnet = text(net.serviceSubnet) || '10.96.0.0/12'
  const podSubnet = text(net.podSubnet)
  const managerArgs = obj(cluster.controllerManager).extraArgs
  const problems = dns1123SubdomainErrors(dnsDomain).map((e) => invalid('networking.dnsDomain', dnsDomain, e))
  problems.push(...subnets(serviceSubnet, MIN_SERVICE_ADDRESSES, 'networking.serviceSubnet'))
  for (const cidr of serviceSubnet.split(',').map((s) => parseCidr(s))) {
    const bits = cidr?.family === 4 ? 32 : 128
    if (cidr && bits - cidr.prefix > MAX_SERVICE_HOST_BITS) {
      problems.push(invalid('networking.serviceSubnet', cidr.network, `specified service subnet is too large; for ${bits}-bit addresses, the mask must be >= ${bits - MAX_SERVICE_HOST_BITS}`))
    }
  }

  if (podSubnet === '') return problems
  problems.push(...subnets(podSubnet, MIN_POD_ADDRESSES, 'networking.podSubnet'))
  if (argValue(managerArgs, 'allocate-node-cidrs') === 'false') return problems
  for (const cidr of podSubnet.split(',').map((s) => parseCidr(s))) {
    if (!cidr) continue
    const flag = cidr.family === 4 ? 'node-cidr-mask-size-ipv4' : 'node-cidr-mask-size-ipv6'
    const given = argValue(managerArgs, flag)
    if (given !== undefined && given !== '' && !/^[+-]?\d+$/.test(given)) {
      problems.push(invalid('networking.podSubnet', cidr.network, `could not parse the value of the kube-controller-manager flag ${flag} as an integer: strconv.Atoi: parsing ${fieldValue(given)}: invalid syntax`))
      continue
    }

    const nodeMask = given ? Number(given) : cidr.family === 4 ? 24 : 64
    if (cidr.prefix > nodeMask) {
      problems.push(invalid('networking.podSubnet', cidr.network, `the size of pod subnet with mask ${cidr.prefix} is smaller than the size of node subnet with mask ${nodeMask}`))
    } else if (nodeMask - cidr.prefix > POD_NODE_MASK_MAX_DIFF) {
      problems.push(invalid('networking.podSubnet', cidr.network, `pod subnet mask (${cidr.prefix}) and node-mask (${nodeMask}) difference is greater than ${POD_NODE_MASK_MAX_DIFF}`))
    }
  }

  return problems
}

function etcd(cluster: Obj): FieldProblem[] {
  const e = obj(cluster.etcd)
  const local = isObj(e.local) ? e.local : undefined
  const external = isObj(e.external) ? e.external : undefined
  if (local && external) return [invalid('etcd', '', '.Etcd.Local and .Etcd.External are mutually exclusive')]
  if (external) {
    const [ca, cert, key] = [text(external.caFile), text(external.certFile), text(external.keyFile)]
    const problems: FieldProblem[] = []
    if ((cert === '') !== (key === '')) problems.push(invalid('etcd.external', '', 'either both or none of .Etcd.External.CertFile and .Etcd.External.KeyFile must be set'))
    if (cert !== '' && key !== '' && ca === '') problems.push(invalid('etcd.external', '', 'setting .Etcd.External.CertFile and .Etcd.External.KeyFile requires .Etcd.External.CAFile'))
    const requireHttps = ca !== '' || cert !== '' || key !== ''
    for (const url of strings(external.endpoints)) {
      const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(url)?.[1] ?? ''
      if (requireHttps && scheme !== 'https') problems.push(invalid('etcd.external.endpoints', url, 'the URL must be using the HTTPS scheme'))
      if (scheme === '') problems.push(invalid('etcd.external.endpoints', url, 'the URL without scheme is not allowed'))
    }

    problems.push(...absolutePath(ca, 'etcd.external.caFile'), ...absolutePath(cert, 'etcd.external.certFile'), ...absolutePath(key, 'etcd.external.keyFile'))
    return problems
  }

  const l = local ?? {}
  return [
    ...absolutePath(text(l.dataDir), 'etcd.local.dataDir'),
    ...certSans(strings(l.serverCertSANs), 'etcd.local.serverCertSANs'),
    ...certSans(strings(l.peerCertSANs), 'etcd.local.peerCertSANs'),
    ...imageRepository(text(l.imageRepository), 'etcd.local.imageRepository'),
    ...extraArgs(l.extraArgs, 'etcd.local.extraArgs'),
  ]
}

function encryptionAlgorithm(value: string, kubeadmMinor: number | undefined): FieldProblem[] {
  // ECDSA-P384 arrived in kubeadm 1.34; without a kubeadm version, accept every algorithm any release knows.
  const known = ['ECDSA-P256', ...(kubeadmMinor === undefined || kubeadmMinor >= 34 ? ['ECDSA-P384'] : []), 'RSA-2048', 'RSA-3072', 'RSA-4096']
  if (value === '' || known.includes(value)) return []
  return [invalid('encryptionAlgorithm', value, `Invalid encryption algorithm ${fieldValue(value)}. Must be one of [${known.join(' ')}]`)]
}

function bootstrapTokens(tokens: unknown): FieldProblem[] {
  return (Array.isArray(tokens) ? tokens : []).flatMap((raw, i) => {
    const bt = obj(raw)
    const path = `bootstrapTokens.${i}`
    const problems: FieldProblem[] = []
    const usages = Array.isArray(bt.usages) ? strings(bt.usages) : TOKEN_USAGES
    const groups = strings(bt.groups)
    const unknown = [...new Set(usages.filter((u) => !TOKEN_USAGES.includes(u)))].sort()
    if (unknown.length > 0) problems.push(invalid(`${path}.usages`, usages, `invalid bootstrap token usage string: ${unknown.join(',')}, valid usage options: ${TOKEN_USAGES.join(',')}`))
    if (groups.length > 0 && !usages.includes('authentication')) problems.push(invalid(`${path}.groups`, groups, 'token groups cannot be specified unless --usages includes "authentication"'))
    for (const group of groups) {
      if (!BOOTSTRAP_GROUP.test(group)) problems.push(invalid(`${path}.groups`, groups, `bootstrap group ${fieldValue(group)} is invalid (must match \\Asystem:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]\\z)`))
    }

    if (bt.ttl != null && bt.expires != null) problems.push(invalid(path, '', 'the BootstrapToken .TTL and .Expires fields are mutually exclusive'))
    return problems
  })
}

export interface InitInput {
  cluster: Obj | undefined
  init: Obj | undefined
  /** Minor version of the kubeadm binary, when known. */
  kubeadmMinor?: number
}

/** SetInitDynamicDefaults' own errors: kubeadm stops at the first before validating anything. */
export function initDefaultsProblem({cluster, init, kubeadmMinor}: InitInput): FieldProblem | undefined {
  const address = text(obj(init?.localAPIEndpoint).advertiseAddress)
  if (address !== '' && !ipFamily(address)) return {message: badAdvertiseAddress(address), path: 'localAPIEndpoint.advertiseAddress'}
  const version = text(cluster?.kubernetesVersion)
  if (version === '') return undefined
  const bare = version.replace(/^(release|ci)\//, '')
  const semantic = KUBE_RELEASE.exec(bare)
  if (!semantic) return KUBE_RELEASE_LABEL.test(bare) ? undefined : {message: badKubernetesVersion(version), path: 'kubernetesVersion'}
  const [major, minor] = [Number(semantic[1]), Number(semantic[2])]
  if (kubeadmMinor !== undefined && (major < 1 || (major === 1 && minor < kubeadmMinor - 1))) {
    const normalised = bare.startsWith('v') ? bare : `v${bare}`
    return {message: controlPlaneTooOld(`1.${kubeadmMinor - 1}.0`, normalised), path: 'kubernetesVersion'}
  }

  return undefined
}

/** ValidateInitConfiguration over the InitConfiguration and ClusterConfiguration given. */
export function validateInit({cluster = {}, init = {}, kubeadmMinor}: InitInput): FieldProblem[] {
  const apiServer = obj(cluster.apiServer)
  return [
    ...nodeRegistration(obj(init.nodeRegistration), 'nodeRegistration'),
    ...bootstrapTokens(init.bootstrapTokens),
    ...imageRepository(text(obj(cluster.dns).imageRepository), 'dns.imageRepository'),
    ...networking(cluster),
    ...certSans(strings(apiServer.certSANs), 'apiServer.certSANs'),
    ...extraArgs(apiServer.extraArgs, 'apiServer.extraArgs'),
    ...extraArgs(obj(cluster.controllerManager).extraArgs, 'controllerManager.extraArgs'),
    ...extraArgs(obj(cluster.scheduler).extraArgs, 'scheduler.extraArgs'),
    ...absolutePath(text(cluster.certificatesDir), 'certificatesDir'),
    ...(text(cluster.controlPlaneEndpoint) === '' || validHostPort(text(cluster.controlPlaneEndpoint))
      ? []
      : [invalid('controlPlaneEndpoint', text(cluster.controlPlaneEndpoint), 'endpoint is not valid')]),
    ...imageRepository(text(cluster.imageRepository), 'imageRepository'),
    ...etcd(cluster),
    ...encryptionAlgorithm(text(cluster.encryptionAlgorithm), kubeadmMinor),
    ...apiEndpoint(obj(init.localAPIEndpoint), 'localAPIEndpoint'),
    ...certificateKeyProblems(text(init.certificateKey), 'certificateKey'),
  ]
}

/** SetJoinDynamicDefaults' own error: a control plane's advertise address that is no IP. */
export function joinDefaultsProblem(join: Obj): FieldProblem | undefined {
  const address = text(obj(obj(join.controlPlane).localAPIEndpoint).advertiseAddress)
  return address !== '' && !ipFamily(address) ? {message: badAdvertiseAddress(address), path: 'controlPlane.localAPIEndpoint.advertiseAddress'} : undefined
}

/** ValidateJoinConfiguration */
export function validateJoin(join: Obj): FieldProblem[] {
  const discovery = obj(join.discovery)
  const bt = isObj(discovery.bootstrapToken) ? discovery.bootstrapToken : undefined
  const file = isObj(discovery.file) ? discovery.file : undefined
  const problems: FieldProblem[] = []
  if (!bt && !file) problems.push(invalid('discovery', '', 'bootstrapToken or file must be set'))
  if (bt && file) problems.push(invalid('discovery', '', 'bootstrapToken and file cannot both be set'))
  if (bt) {
    const endpoint = text(bt.apiServerEndpoint)
    if (endpoint === '') problems.push({message: requiredField('discovery.bootstrapToken', 'APIServerEndpoint is not set'), path: 'discovery.bootstrapToken'})
    if (strings(bt.caCertHashes).length === 0 && bt.unsafeSkipCAVerification !== true) {
      problems.push(invalid('discovery.bootstrapToken.caCertHashes', '', 'using token-based discovery without caCertHashes can be unsafe. Set unsafeSkipCAVerification as true in your kubeadm config file or pass --discovery-token-unsafe-skip-ca-verification flag to continue'))
    }

    problems.push(...token(text(bt.token), 'discovery.bootstrapToken.token'))
    const split = splitHostPort(endpoint)
    if ('error' in split) problems.push(invalid('discovery.bootstrapToken.apiServerEndpoint', endpoint, split.error))
    // Defaulting copies the discovery token into tlsBootstrapToken when it is not given.
    problems.push(...token(text(discovery.tlsBootstrapToken) || text(bt.token), 'discovery.tlsBootstrapToken'))
  }

  if (file) {
    const kubeconfig = text(file.kubeConfigPath)
    const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(kubeconfig)?.[1]
    if (scheme !== undefined && scheme !== 'https') problems.push(invalid('discovery.file.kubeConfigPath', kubeconfig, 'if a URL is used, the scheme must be https'))
    if (text(discovery.tlsBootstrapToken) !== '') problems.push(...token(text(discovery.tlsBootstrapToken), 'discovery.tlsBootstrapToken'))
  }

  problems.push(...nodeRegistration(obj(join.nodeRegistration), 'nodeRegistration'))
  if (isObj(join.controlPlane)) {
    problems.push(...apiEndpoint(obj(join.controlPlane.localAPIEndpoint), 'controlPlane.localAPIEndpoint'))
    problems.push(...certificateKeyProblems(text(join.controlPlane.certificateKey), 'controlPlane.certificateKey'))
  }

  const caCertPath = text(join.caCertPath)
  if (caCertPath !== '' && (!caCertPath.startsWith('/') || !caCertPath.endsWith('.crt'))) {
    problems.push(invalid('caCertPath', caCertPath, 'the ca certificate path must be an absolute path'))
  }

  return problems
}

/**
 * The CA pins of a token discovery, checked the way kubeadm join's discovery phase does
 * (cluster-bootstrap pubkeypin): only after the configuration itself was accepted.
 */
export function discoveryPinProblems(join: Obj): FieldProblem[] {
  const bt = obj(obj(join.discovery).bootstrapToken)
  const pins = strings(bt.caCertHashes)
  const fail = (detail: string): FieldProblem[] => [{message: `${caHashPrefix}: ${detail}`, path: 'discovery.bootstrapToken.caCertHashes'}]
  for (const pin of pins) {
    const parts = pin.split(':')
    if (parts.length !== 2) return fail('invalid public key hash, expected "format:value"')
    const [format = '', value = ''] = parts
    if (format.toLowerCase() !== 'sha256') return fail(`unknown hash format ${fieldValue(format)}`)
    if (Math.floor(value.length / 2) !== 32) return fail(`expected a 32 byte SHA-256 hash, found ${Math.floor(value.length / 2)} bytes`)
    const error = hexError(value)
    if (error) return fail(error)
  }

  return []
}

/** ValidateResetConfiguration */
export function validateReset(reset: Obj): FieldProblem[] {
  return [
    ...socketPath(text(reset.criSocket), 'criSocket'),
    ...absolutePath(text(reset.certificatesDir), 'certificatesDir'),
    ...strings(reset.unmountFlags).flatMap((flag, i) => (UNMOUNT_FLAGS.has(flag) ? [] : [invalid('unmountFlags', `index ${i}`, `unknown unmount flag ${flag}`)])),
  ]
}
