/**
 * kubeadm's command line as cobra and pflag read it, for the commands the lab simulates: which
 * (sub)command, its flags and arguments, and the errors in cobra's and kubeadm's words (`unknown
 * flag: --foo`, `unknown command "x" for "kubeadm"`, `invalid subcommand: "x"`, `can not mix
 * '--config' with arguments [...]`). Errors end, as kubeadm prints them, with the hint about --v.
 */

type FlagKind = 'bool' | 'duration' | 'int' | 'string' | 'strings'

interface FlagDef {
  kind: FlagKind
  short?: string
}

export type FlagValue = boolean | number | string | string[]

export interface KubeadmCall {
  args: string[]
  /** Flags given (by long name), in the order seen; string slices accumulate. */
  flags: Record<string, FlagValue>
  /** `init`, `join`, `reset`, `token create`, `token list`, `token delete`, `init phase upload-certs`, `certs certificate-key`, `version`… */
  path: string
}

export interface ArgvError {
  code: number
  message: string
}

export const STACK_HINT = 'To see the stack trace of this error execute with --v=5 or higher'

// Global flags (klog's and kubeadm's own) every command accepts.
const GLOBAL: Record<string, FlagDef> = {
  'add-dir-header': {kind: 'bool'},
  help: {kind: 'bool', short: 'h'},
  'log-file': {kind: 'string'},
  'log-file-max-size': {kind: 'int'},
  'one-output': {kind: 'bool'},
  rootfs: {kind: 'string'},
  'skip-headers': {kind: 'bool'},
  'skip-log-headers': {kind: 'bool'},
  v: {kind: 'int', short: 'v'},
}

const s = (short?: string): FlagDef => ({kind: 'string', ...(short ? {short} : {})})
const b = (short?: string): FlagDef => ({kind: 'bool', ...(short ? {short} : {})})
const list: FlagDef = {kind: 'strings'}

const INIT_FLAGS: Record<string, FlagDef> = {
  'apiserver-advertise-address': s(), 'apiserver-bind-port': {kind: 'int'}, 'apiserver-cert-extra-sans': list, 'cert-dir': s(), 'certificate-key': s(),
  config: s(), 'control-plane-endpoint': s(), 'cri-socket': s(), 'dry-run': b(), 'feature-gates': s(), 'ignore-preflight-errors': list,
  'image-repository': s(), 'kubernetes-version': s(), 'node-name': s(), patches: s(), 'pod-network-cidr': s(), 'service-cidr': s(),
  'service-dns-domain': s(), 'skip-certificate-key-print': b(), 'skip-phases': list, 'skip-token-print': b(), token: s(), 'token-ttl': {kind: 'duration'},
  'upload-certs': b(),
}

const JOIN_FLAGS: Record<string, FlagDef> = {
  'apiserver-advertise-address': s(), 'apiserver-bind-port': {kind: 'int'}, 'certificate-key': s(), config: s(), 'control-plane': b(), 'cri-socket': s(),
  'discovery-file': s(), 'discovery-token': s(), 'discovery-token-ca-cert-hash': list, 'discovery-token-unsafe-skip-ca-verification': b(), 'dry-run': b(),
  'ignore-preflight-errors': list, 'node-name': s(), patches: s(), 'skip-phases': list, 'tls-bootstrap-token': s(), token: s(),
}

const RESET_FLAGS: Record<string, FlagDef> = {
  'cert-dir': s(), 'cleanup-tmp-dir': b(), config: s(), 'cri-socket': s(), 'dry-run': b(), force: b('f'), 'ignore-preflight-errors': list, kubeconfig: s(), 'skip-phases': list,
}

const TOKEN_FLAGS: Record<string, FlagDef> = {'dry-run': b(), kubeconfig: s()}

const CERTS_FLAGS: Record<string, FlagDef> = {'cert-dir': s(), config: s(), kubeconfig: s()}
/** `kubeadm certs renew`'s subcommands: renewal.Manager's certificates and `all`. */
export const RENEWABLE = ['admin.conf', 'all', 'apiserver', 'apiserver-etcd-client', 'apiserver-kubelet-client', 'controller-manager.conf', 'etcd-healthcheck-client',
  'etcd-peer', 'etcd-server', 'front-proxy-client', 'scheduler.conf', 'super-admin.conf']

const UPGRADE_FLAGS: Record<string, FlagDef> = {
  'allow-experimental-upgrades': b(), 'allow-release-candidate-upgrades': b(), config: s(), 'etcd-upgrade': b(), 'feature-gates': s(), 'ignore-preflight-errors': list,
  kubeconfig: s(), 'print-config': b(),
}

const COMMANDS: Record<string, {args: 'any' | 'none' | 'one' | 'optional'; flags: Record<string, FlagDef>}> = {
  'certs certificate-key': {args: 'none', flags: {}},
  'certs check-expiration': {args: 'none', flags: {...CERTS_FLAGS, 'allow-missing-template-keys': b(), output: s('o'), 'show-managed-fields': b()}},
  ...Object.fromEntries(RENEWABLE.map((name) => [`certs renew ${name}`, {args: 'none' as const, flags: CERTS_FLAGS}])),
  init: {args: 'none', flags: INIT_FLAGS},
  'init phase upload-certs': {args: 'none', flags: {'certificate-key': s(), config: s(), kubeconfig: s(), 'skip-certificate-key-print': b(), 'upload-certs': b()}},
  join: {args: 'optional', flags: JOIN_FLAGS},
  reset: {args: 'none', flags: RESET_FLAGS},
  'upgrade apply': {
    args: 'optional',
    flags: {...UPGRADE_FLAGS, 'certificate-renewal': b(), 'dry-run': b(), force: b('f'), 'image-pull-timeout': {kind: 'duration'}, patches: s(), 'skip-phases': list, yes: b('y')},
  },
  'upgrade node': {args: 'none', flags: {'certificate-renewal': b(), 'dry-run': b(), 'etcd-upgrade': b(), 'ignore-preflight-errors': list, kubeconfig: s(), patches: s(), 'skip-phases': list}},
  'upgrade plan': {args: 'optional', flags: {...UPGRADE_FLAGS, 'allow-missing-template-keys': b(), output: s('o'), 'show-managed-fields': b()}},
  'token create': {
    args: 'optional',
    flags: {...TOKEN_FLAGS, 'certificate-key': s(), config: s(), description: s(), groups: list, 'print-join-command': b(), ttl: {kind: 'duration'}, usages: list},
  },
  'token delete': {args: 'any', flags: TOKEN_FLAGS},
  'token generate': {args: 'none', flags: TOKEN_FLAGS},
  'token list': {args: 'none', flags: {...TOKEN_FLAGS, 'allow-missing-template-keys': b(), output: s('o'), 'show-managed-fields': b()}},
  version: {args: 'none', flags: {output: s('o')}},
}

/** Parent commands: their children, and whether they run on their own (kubeadm's SubCmdRunE makes them fail). */
const PARENTS: Record<string, string[]> = {
  '': ['certs', 'completion', 'config', 'init', 'join', 'kubeconfig', 'reset', 'token', 'upgrade', 'version'],
  certs: ['certificate-key', 'check-expiration', 'generate-csr', 'renew'],
  'certs renew': RENEWABLE,
  'init phase': ['addon', 'bootstrap-token', 'certs', 'control-plane', 'etcd', 'kubeconfig', 'kubelet-finalize', 'kubelet-start', 'mark-control-plane', 'preflight', 'show-join-command', 'upload-certs', 'upload-config', 'wait-control-plane'],
  token: ['create', 'delete', 'generate', 'list'],
  upgrade: ['apply', 'diff', 'node', 'plan'],
}

/** Real kubeadm commands the lab does not simulate (the stub says so and exits 0, as before). */
export const NOT_SIMULATED = new Set(['completion', 'config', 'kubeconfig', 'upgrade diff', 'certs generate-csr'])

const fail = (message: string, code = 1, hint = true): ArgvError => ({code, message: hint ? `${message}\n${STACK_HINT}\n` : `${message}\n`})

/** Levenshtein distance, for cobra's "Did you mean this?". */
function distance(a: string, b: string): number {
  const d = Array.from({length: a.length + 1}, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
  }

  return d[a.length]![b.length]!
}

function suggestions(word: string, options: readonly string[]): string {
  const near = options.filter((o) => distance(word, o) <= 2 || o.startsWith(word))
  return near.length > 0 ? `\n\nDid you mean this?\n${near.map((n) => `\t${n}\n`).join('')}` : ''
}

/** Splits argv into the command path and the rest (flags may come before the subcommand too). */
function commandPath(argv: readonly string[]): {path: string; rest: string[]} | ArgvError {
  let path = ''
  const rest: string[] = []
  let i = 0
  for (; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--') break
    if (a.startsWith('-')) {
      rest.push(a)
      // A value-taking global flag before the command (`--v 5 init`).
      const name = a.replace(/^--?/, '')
      if (!a.includes('=') && (name === 'v' || name === 'rootfs' || name === 'log-file') && i + 1 < argv.length) rest.push(argv[++i]!)
      continue
    }

    const key = path === 'init' && a === 'phase' ? 'init phase' : path ? `${path} ${a}` : a
    if (key === 'init phase') {
      path = key
      continue
    }

    const children = PARENTS[path]
    if (children && children.includes(a)) {
      path = key
      continue
    }

    if (children) {
      // kubeadm's parent commands refuse an unknown child; the root is cobra's own check.
      if (path === '') return fail(`unknown command ${JSON.stringify(a)} for "kubeadm"${suggestions(a, children)}`)
      return fail(`invalid subcommand: ${JSON.stringify(a)}`, 1, false)
    }

    break
  }

  return {path, rest: [...rest, ...argv.slice(i)]}
}

function setFlag(flags: Record<string, FlagValue>, name: string, def: FlagDef, raw: string | undefined, shown: string): ArgvError | undefined {
  switch (def.kind) {
    case 'bool': {
      const value = raw ?? 'true'
      if (!/^(1|t|T|TRUE|true|True|0|f|F|FALSE|false|False)$/.test(value)) return fail(`invalid argument ${JSON.stringify(value)} for ${JSON.stringify(shown)} flag: strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax`)
      flags[name] = /^(1|t|T|TRUE|true|True)$/.test(value)
      return undefined
    }

    case 'int':
      if (!/^-?\d+$/.test(raw ?? '')) return fail(`invalid argument ${JSON.stringify(raw)} for ${JSON.stringify(shown)} flag: strconv.ParseInt: parsing ${JSON.stringify(raw)}: invalid syntax`)
      flags[name] = Number(raw)
      return undefined
    case 'duration':
      if (parseDuration(raw ?? '') === undefined) return fail(`invalid argument ${JSON.stringify(raw)} for ${JSON.stringify(shown)} flag: time: invalid duration ${JSON.stringify(raw)}`)
      flags[name] = raw ?? ''
      return undefined
    case 'strings':
      flags[name] = [...((flags[name] as string[] | undefined) ?? []), ...(raw ?? '').split(',').filter(Boolean)]
      return undefined
    default:
      flags[name] = raw ?? ''
      return undefined
  }
}

/** Go's time.ParseDuration, in milliseconds (0 allowed). */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0
  const units: Record<string, number> = {h: 3_600_000, m: 60_000, ms: 1, ns: 1e-6, s: 1000, us: 1e-3, 'µs': 1e-3}
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy
  let total = 0
  let at = 0
  let match: RegExpExecArray | null
  while ((match = re.exec(text)) !== null) {
    total += Number(match[1]) * units[match[2]!]!
    at = re.lastIndex
  }

  return at === text.length && text.length > 0 ? total : undefined
}

/** Parses kubeadm's argv (without the program name). */
export function parseKubeadmArgv(argv: readonly string[]): KubeadmCall | ArgvError {
  const split = commandPath(argv)
  if ('code' in split) return split
  const {path, rest} = split
  if (path === '') {
    if (rest.length === 0 || rest.some((a) => a === '-h' || a === '--help')) return {args: [], flags: {help: true}, path: ''}
  }

  const spec = COMMANDS[path]
  const parentOnly = PARENTS[path] !== undefined && spec === undefined
  const defs: Record<string, FlagDef> = {...GLOBAL, ...(spec?.flags ?? {})}
  const flags: Record<string, FlagValue> = {}
  const args: string[] = []
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!
    if (a === '--') {
      args.push(...rest.slice(i + 1))
      break
    }

    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=')
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq)
      const def = defs[name]
      if (!def) return fail(`unknown flag: --${name}`)
      let raw = eq < 0 ? undefined : a.slice(eq + 1)
      if (raw === undefined && def.kind !== 'bool') {
        if (i + 1 >= rest.length) return fail(`flag needs an argument: --${name}`)
        raw = rest[++i]
      }

      const problem = setFlag(flags, name, def, raw, `--${name}`)
      if (problem) return problem
      continue
    }

    if (a.startsWith('-') && a.length > 1) {
      const letter = a[1]!
      const entry = Object.entries(defs).find(([, d]) => d.short === letter)
      if (!entry) return fail(`unknown shorthand flag: '${letter}' in ${a}`)
      const [name, def] = entry
      let raw: string | undefined = a.length > 2 ? a.slice(2).replace(/^=/, '') : undefined
      if (raw === undefined && def.kind !== 'bool') {
        if (i + 1 >= rest.length) return fail(`flag needs an argument: '${letter}' in -${letter}`)
        raw = rest[++i]
      }

      const problem = setFlag(flags, name, def, raw, letter)
      if (problem) return problem
      continue
    }

    args.push(a)
  }

  if (flags.help === true) return {args, flags, path}
  if (parentOnly) {
    return args.length === 0 ? fail(`missing subcommand; ${JSON.stringify(path.split(' ').at(-1))} is not meant to be run on its own`) : fail(`invalid subcommand: ${JSON.stringify(args[0])}`, 1, false)
  }

  if (spec) {
    if (spec.args === 'none' && args.length > 0) return fail(`unknown command ${JSON.stringify(args[0])} for "kubeadm ${path}"`)
    if (spec.args === 'optional' && args.length > 1) return fail(`accepts at most 1 arg(s), received ${args.length}`)
  }

  return {args, flags, path}
}

// validation.isAllowedFlag: what may accompany --config.
const ALLOWED_WITH_CONFIG = new Set(['config', 'ignore-preflight-errors', 'dry-run', 'kubeconfig', 'node-name', 'kubeconfig-dir', 'upload-certs', 'print-manifest', 'allow-experimental-api', 'print-join-command', 'rootfs', 'v', 'log-file', 'yes'])

/** validation.ValidateMixedArguments: flags that may not be set together with --config (pflag visits them sorted). */
export function mixedWithConfig(call: KubeadmCall): string | undefined {
  if (call.flags.config === undefined) return undefined
  const bad = Object.keys(call.flags)
    .filter((name) => !ALLOWED_WITH_CONFIG.has(name) && !name.startsWith('skip-'))
    .sort()
  return bad.length > 0 ? `can not mix '--config' with arguments [${bad.join(' ')}]` : undefined
}

export function flagString(call: KubeadmCall, name: string): string | undefined {
  const value = call.flags[name]
  return typeof value === 'string' ? value : undefined
}

export function flagBool(call: KubeadmCall, name: string): boolean {
  return call.flags[name] === true
}

export function flagList(call: KubeadmCall, name: string): string[] {
  const value = call.flags[name]
  return Array.isArray(value) ? value : []
}
