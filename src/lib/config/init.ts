/**
 * `kp config init`: gather answers (flags first; prompts for the rest on a terminal), build a
 * kp.yaml that validates, and render it with comments and a yaml-language-server modeline.
 */
import path from 'node:path'

import {Document, isMap, isScalar, isSeq, type Node} from 'yaml'

import {InterruptedError, UsageError} from '../errors.js'
import {addToIpv4} from './net.js'
import {formatPath, schemaAt, type PathSegment} from './problems.js'
import {DEFAULT_KUBERNETES_REPO_BASE, DEFAULT_TOKEN_SECRET_ENV, SCHEMA_FILE_NAME, SECRET_SOURCE_HELP} from './defaults.js'
import {INIT_FIELDS, type Answers, type AnswerValue, type InitField} from './init-fields.js'
import {KpConfigSchema, type KpConfigInput} from './schema.js'
import {parseConfig} from './validate.js'

/** What the prompts need; a test can pass a fake. */
export interface Asker {
  confirm(message: string, defaultValue: boolean): Promise<boolean>
  input(message: string, options: {default?: string; required: boolean; validate: (value: string) => string | true}): Promise<string>
}

export async function inquirerAsker(): Promise<Asker> {
  const prompts = await import('@inquirer/prompts')
  // Ctrl-C at a prompt is an interruption (exit 130), not a crash.
  const interruptible = async <T>(answer: Promise<T>): Promise<T> =>
    answer.catch((error: unknown) => {
      if (error instanceof Error && error.name === 'ExitPromptError') throw new InterruptedError('kp config init was interrupted; nothing was written')
      throw error
    })
  return {
    confirm: (message, defaultValue) => interruptible(prompts.confirm({default: defaultValue, message})),
    input: (message, options) => interruptible(prompts.input({message, ...options})),
  }
}

/**
 * Answers from flags and, when `ask` is given, prompts for whatever the flags left open. Without
 * `ask`, refuses naming every flag still needed.
 */
export async function collectAnswers(flags: Answers, ask?: Asker): Promise<Answers> {
  const answers: Answers = {}
  const missing: string[] = []
  let proxmox = INIT_FIELDS.some((f) => f.proxmox && flags[f.flag] !== undefined)
  if (!proxmox && ask) proxmox = await ask.confirm('Manage the VMs through the Proxmox API?', true)
  for (const field of INIT_FIELDS) {
    if (field.proxmox && !proxmox) continue
    const fallback = field.default?.(answers)
    const required = field.required?.(answers) ?? false
    let value = flags[field.flag]
    if (value === undefined && ask && !field.advanced) {
      // One question after another: defaults depend on earlier answers.
      const text = await ask.input(field.message, {
        default: fallback === undefined ? undefined : String(fallback),
        required,
        validate: (input) => checkAnswer(field, input),
      })
      value = text.trim() === '' ? undefined : toAnswer(field, text)
    }

    value ??= fallback
    if (value === undefined && required) missing.push(`--${field.flag}`)
    answers[field.flag] = value
  }

  if (missing.length > 0) {
    throw new UsageError(`missing ${missing.join(', ')}: without a terminal, kp config init takes every answer from flags`, {
      hint: 'Run it in a terminal to be asked, or pass the flags ("kp config init --help" lists them).',
    })
  }

  return answers
}

/** Check one typed answer against the schema of the key it fills. */
export function checkAnswer(field: InitField, input: string): string | true {
  if (input.trim() === '') return field.required?.({}) ? 'required' : true
  const value = toAnswer(field, input)
  if (field.flag === 'control-planes' || field.flag === 'workers') {
    const min = field.flag === 'workers' ? 0 : 1
    return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= 99 ? true : `a whole number from ${min}`
  }

  const schema = schemaAt(KpConfigSchema, field.key)
  const parsed = schema?.safeParse(field.kind === 'list' ? String(value).split(/[\s,]+/).filter(Boolean) : value)
  return !parsed || parsed.success ? true : (parsed.error.issues[0]?.message ?? 'not valid')
}

function toAnswer(field: InitField, text: string): AnswerValue {
  const trimmed = text.trim()
  return field.kind === 'int' && /^-?\d+$/.test(trimmed) ? Number(trimmed) : trimmed
}

/** The kp.yaml the answers describe. Refuses (exit 2) when the result would not validate. */
export function buildConfig(a: Answers): KpConfigInput {
  const str = (flag: string) => (a[flag] === undefined ? undefined : String(a[flag]))
  const int = (flag: string) => (a[flag] === undefined ? undefined : Number(a[flag]))
  const controlPlanes = int('control-planes') ?? 1
  const workers = int('workers') ?? 0
  const roles = [...Array.from({length: controlPlanes}, () => 'control-plane' as const), ...Array.from({length: workers}, () => 'worker' as const)]
  let cp = 0
  let w = 0
  const nodes = roles.map((role, i) => ({
    name: role === 'control-plane' ? `cp${++cp}` : `w${++w}`,
    role,
    vmid: int('first-vmid')! + i,
    ip: addToIpv4(str('first-ip')!, i) ?? str('first-ip')!,
    cores: 2,
    memoryMiB: 4096,
    diskGiB: 32,
  }))
  const config = {
    cluster: {
      name: str('name')!,
      kubernetesVersion: str('kubernetes-version')!,
      controlPlaneEndpoint: str('endpoint')!,
      podSubnet: str('pod-subnet'),
      serviceSubnet: str('service-subnet'),
      cni: {manifest: str('cni-manifest')!},
    },
    ...(str('proxmox-endpoint')
      ? {
          proxmox: {
            endpoint: str('proxmox-endpoint')!,
            node: str('pve-node')!,
            tokenId: str('token-id')!,
            tokenSecret: {env: str('token-secret-env') ?? DEFAULT_TOKEN_SECRET_ENV},
            ...(str('fingerprint') ? {fingerprint: str('fingerprint')} : {}),
            templateVmid: int('template-vmid')!,
            storage: str('storage'),
          },
        }
      : {}),
    network: {
      bridge: str('bridge'),
      ...(a.vlan === undefined ? {} : {vlan: int('vlan')}),
      gateway: str('gateway')!,
      prefix: int('prefix')!,
      dns: (str('dns') ?? str('gateway')!).split(/[\s,]+/).filter(Boolean),
      ...(str('search-domain') ? {searchDomain: str('search-domain')} : {}),
    },
    ssh: {user: str('ssh-user')!, ...(str('identity-file') ? {identityFile: str('identity-file')} : {}), agent: true},
    packages: {kubernetesRepoBase: DEFAULT_KUBERNETES_REPO_BASE},
    nodes,
    maintenance: {drainTimeout: '10m', snapshotBeforeMaintenance: true, rebootPolicy: 'if-required' as const},
    health: {certificateWarnDays: 30, certificateCriticalDays: 7, podRestartWarn: 5, diskUsageWarnPercent: 80, diskUsageCriticalPercent: 90},
  }

  const checked = parseConfig(config)
  if (!checked.ok) {
    const lines = checked.problems.map((p) => `  ${flagFor(p.path)}${formatPath(p.path)}: ${p.message}`)
    throw new UsageError(`these answers do not make a valid kp.yaml:\n${lines.join('\n')}`, {hint: 'Change the flags or answers named above and run kp config init again.'})
  }

  return config
}

function flagFor(path: PathSegment[]): string {
  const key = formatPath(path)
  const field =
    INIT_FIELDS.find((f) => f.key.length > 0 && formatPath(f.key) === key) ??
    (path[0] === 'nodes' ? INIT_FIELDS.find((f) => f.flag === (path[2] === 'vmid' ? 'first-vmid' : path[2] === 'ip' ? 'first-ip' : 'control-planes')) : undefined)
  return field ? `--${field.flag}: ` : ''
}

const SECTION_COMMENTS: Record<string, string> = {
  cluster: 'The Kubernetes cluster kubeadm builds.',
  health: 'Thresholds of kp health (WARNING / CRITICAL).',
  maintenance: 'How drain, patch, upgrade and certificate rotation behave.',
  network: 'The node network. Node IPs and the gateway must be inside gateway/prefix.',
  nodes: 'One entry per VM. Change cores, memoryMiB and diskGiB before kp vm seed.',
  packages: 'Where nodes get kubeadm, kubelet and kubectl (change it for a mirror).',
  proxmox: 'The Proxmox VE API. The token needs VM.Allocate, VM.Clone, VM.Config.*, VM.PowerMgmt, VM.Snapshot, Datastore.AllocateSpace.',
  ssh: 'How kp reaches the nodes: the cloud-init user, with passwordless sudo.',
}

/** kp.yaml as text: modeline first, a comment on every section, nodes one per line. */
export function renderConfig(config: KpConfigInput, schemaRef: string): string {
  const doc = new Document(config)
  doc.commentBefore = [
    ` yaml-language-server: $schema=${schemaRef}`,
    '',
    ` kp.yaml for cluster ${config.cluster.name}, written by kp config init.`,
    ' Every key: docs/configuration.md, or "kp config schema". Check it with "kp config validate".',
  ].join('\n')
  const root = doc.contents
  if (isMap(root)) {
    for (const [i, pair] of root.items.entries()) {
      if (!isScalar(pair.key)) continue
      const comment = SECTION_COMMENTS[String(pair.key.value)]
      if (comment) pair.key.commentBefore = ` ${comment}`
      // The document comment already ends with a blank line.
      if (i > 0) pair.key.spaceBefore = true
    }
  }

  const nodes = doc.get('nodes', true) as Node | undefined
  if (isSeq(nodes)) for (const item of nodes.items) if (isMap(item)) item.flow = true
  const dns = doc.getIn(['network', 'dns'], true) as Node | undefined
  if (isSeq(dns)) dns.flow = true
  const proxmox = doc.get('proxmox', true) as Node | undefined
  if (isMap(proxmox)) {
    for (const pair of proxmox.items) {
      if (isScalar(pair.key) && pair.key.value === 'tokenSecret') {
        pair.key.commentBefore = ` Never the secret itself: ${SECRET_SOURCE_HELP} (a file must be chmod 600).`
        if (isMap(pair.value)) pair.value.flow = true
      }
    }
  }

  return doc.toString({flowCollectionPadding: false, lineWidth: 0})
}

export interface InitResult {
  controlPlanes: number
  name: string
  /** The rendered file, in a dry run. */
  content?: string
  path: string
  proxmox: boolean
  schemaPath: string
  workers: number
  written: boolean
}

/** Write kp.yaml and kp.schema.json next to it (the modeline points there). */
export async function writeInitFiles(output: string, config: KpConfigInput, options: {dryRun: boolean; force: boolean}): Promise<InitResult> {
  const {writeFileAtomic} = await import('../atomic-write.js')
  const {configJsonSchema} = await import('./json-schema.js')
  const schemaPath = path.join(path.dirname(output), SCHEMA_FILE_NAME)
  const content = renderConfig(config, `./${SCHEMA_FILE_NAME}`)
  const result = {
    controlPlanes: config.nodes.filter((n) => n.role === 'control-plane').length,
    name: config.cluster.name,
    path: output,
    proxmox: config.proxmox !== undefined,
    schemaPath,
    workers: config.nodes.filter((n) => n.role === 'worker').length,
  }
  if (options.dryRun) return {...result, content, written: false}
  // 0o777 less the umask for a new folder, as mkdir -p would make it.
  const folder = {dirMode: 0o777, mode: 0o644}
  // kp.yaml first: if it is refused, nothing was written.
  await writeFileAtomic(output, content, {...folder, existsHint: 'Pass --force to replace it, or --output to write elsewhere.', overwrite: options.force})
  await writeFileAtomic(schemaPath, `${JSON.stringify(configJsonSchema(), null, 2)}\n`, folder)
  return {...result, written: true}
}
