/**
 * Validating a kubeadm configuration file the way kubeadm reads it, for kp's preflight and for the
 * lab's simulated `kubeadm`. It follows kubeadm's own order: split the file into documents and read
 * their apiVersion/kind, refuse removed API versions, decode each document (strictly: unknown
 * fields), apply the dynamic defaults, then validate the values. Every problem found is returned
 * with kubeadm's wording and a line; `error` is the one message kubeadm itself would stop with.
 *
 * The command matters, as it does for kubeadm:
 * - `validate` (the default) is `kubeadm config validate`: unknown fields and unknown APIs are
 *   errors. kp's preflight uses it, so kp never hands kubeadm a file with a typo in it.
 * - `init` and `join` are `kubeadm init|join --config`: kubeadm only warns about unknown fields
 *   (klog `W…] error unmarshaling configuration …: strict decoding error: unknown field "foo"`) and
 *   goes on; `join` looks at the JoinConfiguration alone. The lab's simulated kubeadm uses these.
 * Type errors (a v1beta3 `extraArgs` map in a v1beta4 file, or the reverse) are fatal everywhere.
 */
import {decodeDocument} from './decode.js'
import {
  aggregate,
  deprecatedApi,
  duplicateKeys,
  experimentalApi,
  type Gvk,
  gvkGoSyntax,
  gvkString,
  ignoredDocument,
  kindTwice,
  missingTypeMeta,
  noInitOrCluster,
  noJoin,
  notAnObject,
  notRegistered,
  oldApi,
  strictDecoding,
  unexpectedComponentVersion,
  unknownApis,
  unmarshaling,
} from './messages.js'
import {entry, jsonKind, parseChunk, splitDocuments, toPlain, type ParsedChunk, type Value} from './parse.js'
import {COMPONENT_GROUPS, KNOWN_TYPES, KUBEADM_GROUP, OLD_KUBEADM_VERSIONS, type StructSchema} from './schema.js'
import {discoveryPinProblems, type FieldProblem, initDefaultsProblem, joinDefaultsProblem, validateInit, validateJoin, validateReset} from './semantics.js'

export type KubeadmCommand = 'init' | 'join' | 'validate'

export interface KubeadmValidateOptions {
  /** Which kubeadm command reads the file; default `validate` (`kubeadm config validate`). */
  command?: KubeadmCommand
  /**
   * Version of the kubeadm binary (`1.31.4` or `v1.31.4`). With it, v1beta4 is refused before 1.31
   * (it was experimental), v1beta3 draws the deprecation warning from 1.31, and a
   * kubernetesVersion more than one minor older than kubeadm is refused. Without it, every API
   * version kp knows is accepted quietly.
   */
  kubeadmVersion?: string
}

export type KubeadmProblemCode =
  | 'deprecated-api'
  | 'duplicate-field'
  | 'duplicate-kind'
  | 'experimental-api'
  | 'ignored-document'
  | 'invalid-value'
  | 'missing-document'
  | 'missing-type-meta'
  | 'old-api'
  | 'unknown-api'
  | 'unknown-field'
  | 'wrong-type'
  | 'yaml-syntax'

export interface KubeadmProblem {
  code: KubeadmProblemCode
  /** 0-based index of the YAML document (kubeadm's own split), when the problem is in one. */
  document?: number
  gvk?: Gvk
  /** 1-based line in the file. */
  line?: number
  /** kubeadm's wording. */
  message: string
  /** Field path inside the document, as kubeadm names it (`networking.podSubnet`). */
  path?: string
  severity: 'error' | 'warning'
}

export interface KubeadmDocument {
  apiVersion: string
  /** Plain data of the document. */
  data: Record<string, unknown>
  index: number
  kind: string
  line: number
}

export interface KubeadmValidation {
  documents: KubeadmDocument[]
  /** The error kubeadm would stop with, worded as it prints it; absent when ok. */
  error?: string
  ok: boolean
  problems: KubeadmProblem[]
}

interface Doc {
  chunk: ParsedChunk
  gvk: Gvk
  index: number
  line: number
  root: Extract<Value, {t: 'object'}>
}

/** Collects problems in kubeadm's order and remembers the first error kubeadm would stop at. */
class Report {
  readonly problems: KubeadmProblem[] = []
  error?: string
  private readonly seen = new Set<string>()

  add(problem: KubeadmProblem, fatal = problem.message): void {
    const key = `${problem.document ?? ''}\n${problem.severity}\n${problem.message}`
    if (!this.seen.has(key)) {
      this.seen.add(key)
      this.problems.push(problem)
    }

    if (problem.severity === 'error') this.error ??= fatal
  }
}

function kubeadmMinorOf(version: string | undefined): number | undefined {
  const match = version === undefined ? undefined : /^v?1\.(\d+)(?:\.|$)/.exec(version)
  return match ? Number(match[1]) : undefined
}

const byGvk = (a: Doc, b: Doc) => (gvkString(a.gvk) < gvkString(b.gvk) ? -1 : gvkString(a.gvk) > gvkString(b.gvk) ? 1 : 0)

export function validateKubeadmConfig(text: string, options: KubeadmValidateOptions = {}): KubeadmValidation {
  const command = options.command ?? 'validate'
  const kubeadmMinor = kubeadmMinorOf(options.kubeadmVersion)
  const report = new Report()
  const docs = readDocuments(text, report)
  if (!docs) return {documents: [], error: report.error, ok: false, problems: report.problems}

  const ctx: Context = {command, kubeadmMinor, report, strict: command === 'validate'}
  if (command === 'validate') {
    const unknown = docs.filter((d) => !isOldApi(d.gvk) && !knownSchema(d.gvk, kubeadmMinor, true))
    const fatal = unknownApis(unknown.map((d) => d.gvk))
    for (const d of unknown) report.add({code: 'unknown-api', document: d.index, gvk: d.gvk, line: d.line, message: unknownApis([d.gvk]), severity: 'error'}, fatal)
    if (unknown.length === 0) {
      if (docs.some((d) => isKubeadm(d, 'InitConfiguration') || isKubeadm(d, 'ClusterConfiguration'))) runInit(docs, ctx)
      if (docs.some((d) => isKubeadm(d, 'JoinConfiguration'))) runJoin(docs, ctx)
      if (docs.some((d) => isKubeadm(d, 'ResetConfiguration'))) runReset(docs, ctx)
    }
  } else if (command === 'init') {
    runInit(docs, ctx)
  } else {
    runJoin(docs, ctx)
  }

  const documents = docs.map((d) => ({apiVersion: apiVersionOf(d.gvk), data: toPlain(d.root) as Record<string, unknown>, index: d.index, kind: d.gvk.kind, line: d.line}))
  return {documents, error: report.error, ok: report.error === undefined, problems: report.problems}
}

interface Context {
  command: KubeadmCommand
  kubeadmMinor?: number
  report: Report
  /** kubeadm's strictErrors: unknown fields are errors rather than warnings. */
  strict: boolean
}

const apiVersionOf = (gvk: Gvk) => (gvk.group === '' ? gvk.version : `${gvk.group}/${gvk.version}`)
const isKubeadm = (d: Doc, kind: string) => d.gvk.group === KUBEADM_GROUP && d.gvk.kind === kind
const isOldApi = (gvk: Gvk) => gvk.group === KUBEADM_GROUP && Object.hasOwn(OLD_KUBEADM_VERSIONS, gvk.version)

/** The decoding schema kubeadm has for a GVK; v1beta4 is in kubeadm's scheme from 1.28 on (experimental until 1.31). */
function knownSchema(gvk: Gvk, kubeadmMinor: number | undefined, includeExperimental: boolean): StructSchema | undefined {
  if (gvk.group === KUBEADM_GROUP && gvk.version === 'v1beta4' && kubeadmMinor !== undefined) {
    if (kubeadmMinor < 28 || (kubeadmMinor < 31 && !includeExperimental)) return undefined
  }

  return KNOWN_TYPES[apiVersionOf(gvk)]?.[gvk.kind]
}

/** SplitYAMLDocuments: documents with their GVK, or undefined after reporting why kubeadm cannot read the file. */
function readDocuments(text: string, report: Report): Doc[] | undefined {
  const split = splitDocuments(text)
  if (split.error) {
    report.add({code: 'yaml-syntax', line: split.error.line, message: split.error.message, severity: 'error'})
    return undefined
  }

  const docs: Doc[] = []
  const kinds = new Set<string>()
  const twice: KubeadmProblem[] = []
  for (const [index, chunk] of split.chunks.map((c) => parseChunk(c)).entries()) {
    if (chunk.syntaxError) {
      report.add({code: 'yaml-syntax', document: index, line: chunk.syntaxError.line, message: chunk.syntaxError.message, severity: 'error'})
      return undefined
    }

    const root = chunk.value!
    const line = root.line
    if (root.t !== 'object' && root.t !== 'null') {
      report.add({code: 'missing-type-meta', document: index, line, message: notAnObject(jsonKind(root)), severity: 'error'})
      return undefined
    }

    const apiVersion = entry(root, 'apiVersion')
    const kind = entry(root, 'kind')
    const badType = [apiVersion, kind].find((v) => v !== undefined && v.t !== 'string' && v.t !== 'null')
    if (badType) {
      const field = badType === apiVersion ? 'apiVersion' : 'kind'
      report.add({code: 'missing-type-meta', document: index, line: badType.line, message: `couldn't get version/kind; json parse error: json: cannot unmarshal ${jsonKind(badType)} into Go struct field .${field} of type string`, severity: 'error'})
      return undefined
    }

    const gv = apiVersion?.t === 'string' ? apiVersion.v : ''
    const parts = gv === '/' ? ['', ''] : gv.split('/')
    if (parts.length > 2) {
      report.add({code: 'missing-type-meta', document: index, line: apiVersion?.line ?? line, message: `unexpected GroupVersion string: ${gv}`, severity: 'error'})
      return undefined
    }

    const gvk = {group: parts.length === 2 ? parts[0]! : '', kind: kind?.t === 'string' ? kind.v : '', version: parts.at(-1)!}
    if (gvk.group === '' || gvk.version === '' || gvk.kind === '') {
      report.add({code: 'missing-type-meta', document: index, gvk, line, message: missingTypeMeta(gvk), severity: 'error'})
      return undefined
    }

    if (kinds.has(gvk.kind)) {
      twice.push({code: 'duplicate-kind', document: index, gvk, line: kind?.line ?? line, message: kindTwice(gvk.kind), severity: 'error'})
      continue
    }

    kinds.add(gvk.kind)
    docs.push({chunk, gvk, index, line, root: root.t === 'object' ? root : {entries: [], line, t: 'object'}})
  }

  const fatal = aggregate(twice.map((p) => p.message))
  for (const problem of twice) report.add(problem, fatal)
  return twice.length > 0 ? undefined : docs
}

/** validateSupportedVersion; false when kubeadm stops here. */
function checkVersion(d: Doc, ctx: Context): boolean {
  if (d.gvk.group !== KUBEADM_GROUP) return true
  const old = OLD_KUBEADM_VERSIONS[d.gvk.version]
  const base = {document: d.index, gvk: d.gvk, line: d.line}
  if (old) {
    ctx.report.add({...base, code: 'old-api', message: oldApi(d.gvk, old), severity: 'error'})
    return false
  }

  const minor = ctx.kubeadmMinor
  // `kubeadm config validate` reads deprecated versions quietly (allowDeprecated).
  if (d.gvk.version === 'v1beta3' && minor !== undefined && minor >= 31 && ctx.command !== 'validate') {
    ctx.report.add({...base, code: 'deprecated-api', message: deprecatedApi(d.gvk), severity: 'warning'})
  }

  if (d.gvk.version === 'v1beta4' && minor !== undefined && minor >= 28 && minor < 31) {
    ctx.report.add({...base, code: 'experimental-api', message: experimentalApi(d.gvk), severity: 'error'})
    return false
  }

  return true
}

/**
 * strict.VerifyUnmarshalStrict, then, when kubeadm really decodes the document (`decoded`), the
 * non-strict decode whose errors are fatal. Returns the document's data, undefined when it did not
 * decode.
 */
function decode(d: Doc, ctx: Context, decoded: boolean): Record<string, unknown> | undefined {
  const severity = ctx.strict ? 'error' : 'warning'
  const base = {document: d.index, gvk: d.gvk}
  const schema = knownSchema(d.gvk, ctx.kubeadmMinor, true)
  if (!schema) {
    ctx.report.add({...base, code: 'unknown-api', line: d.line, message: `unknown configuration ${gvkGoSyntax(d.gvk)}`, severity})
    if (decoded && d.gvk.group === KUBEADM_GROUP) ctx.report.add({...base, code: 'unknown-api', line: d.line, message: notRegistered(d.gvk), severity: 'error'})
    return undefined
  }

  const result = decodeDocument(schema, d.root)
  if (result.error) {
    const {line, message} = result.error
    ctx.report.add({...base, code: 'wrong-type', line, message: unmarshaling(d.gvk, message), severity})
    // Past the strict check's warning, the real decode fails with the bare message.
    if (!ctx.strict && decoded) ctx.report.add({...base, code: 'wrong-type', line, message, severity: 'error'})
    return undefined
  }

  const strictErrors = [
    ...(d.chunk.duplicates.length > 0
      ? [{code: 'duplicate-field' as const, line: d.chunk.firstLine + d.chunk.duplicates[0]!.line - 1, message: duplicateKeys(d.chunk.duplicates), path: undefined}]
      : []),
    ...result.unknown.map((u) => ({code: 'unknown-field' as const, line: u.line, message: u.message, path: u.path})),
  ]
  if (strictErrors.length > 0) {
    const whole = unmarshaling(d.gvk, strictDecoding(strictErrors.map((e) => e.message)))
    for (const e of strictErrors) {
      ctx.report.add({...base, code: e.code, line: e.line, message: unmarshaling(d.gvk, strictDecoding([e.message])), path: e.path, severity}, whole)
    }
  }

  return toPlain(d.root) as Record<string, unknown>
}

function lineOf(d: Doc, path: string): number {
  let value: Value | undefined = d.root
  let line = d.line
  for (const segment of path.split('.')) {
    value = value?.t === 'array' ? value.items[Number(segment)] : entry(value, segment)
    if (!value) break
    line = value.line
  }

  return line
}

function fieldProblems(problems: FieldProblem[], docFor: (path: string) => Doc | undefined, ctx: Context): void {
  const fatal = aggregate(problems.map((p) => p.message))
  for (const p of problems) {
    const d = docFor(p.path)
    ctx.report.add({code: 'invalid-value', document: d?.index, gvk: d?.gvk, line: d ? lineOf(d, p.path) : undefined, message: p.message, path: p.path, severity: 'error'}, fatal)
  }
}

/** documentMapToInitConfiguration, then SetInitDynamicDefaults and ValidateInitConfiguration. */
function runInit(docs: Doc[], ctx: Context): void {
  let init: Record<string, unknown> | undefined
  let cluster: Record<string, unknown> | undefined
  let initDoc: Doc | undefined
  let clusterDoc: Doc | undefined
  let failed = false
  for (const d of [...docs].sort(byGvk)) {
    const isInit = isKubeadm(d, 'InitConfiguration')
    const isCluster = isKubeadm(d, 'ClusterConfiguration')
    if (!checkVersion(d, ctx)) {
      failed = true
      if (isInit) initDoc = d
      if (isCluster) clusterDoc = d
      continue
    }

    const isComponent = Object.hasOwn(COMPONENT_GROUPS, d.gvk.group)
    const data = decode(d, ctx, isInit || isCluster || isComponent)
    if (isInit) [init, initDoc] = [data, d]
    else if (isCluster) [cluster, clusterDoc] = [data, d]
    else if (isComponent) checkComponentVersion(d, ctx)
    else ctx.report.add({code: 'ignored-document', document: d.index, gvk: d.gvk, line: d.line, message: ignoredDocument(d.gvk), severity: 'warning'})
    if ((isInit || isCluster) && !data) failed = true
  }

  if (!initDoc && !clusterDoc) {
    ctx.report.add({code: 'missing-document', message: noInitOrCluster, severity: 'error'})
    return
  }

  if (failed) return
  const input = {cluster, init, kubeadmMinor: ctx.kubeadmMinor}
  const docFor = (path: string) => (/^(nodeRegistration|bootstrapTokens|localAPIEndpoint|certificateKey)\b/.test(path) ? initDoc : clusterDoc)
  const defaults = initDefaultsProblem(input)
  if (defaults) {
    fieldProblems([defaults], docFor, ctx)
    return
  }

  fieldProblems(validateInit(input), docFor, ctx)
}

function checkComponentVersion(d: Doc, ctx: Context): void {
  const want = COMPONENT_GROUPS[d.gvk.group]!
  if (d.gvk.version !== want) {
    ctx.report.add({code: 'unknown-api', document: d.index, gvk: d.gvk, line: d.line, message: unexpectedComponentVersion(d.gvk, `${d.gvk.group}/${want}`), severity: 'error'})
  }
}

/** documentMapToJoinConfiguration (it reads nothing but the JoinConfiguration), defaults, validation. */
function runJoin(docs: Doc[], ctx: Context): void {
  const joinDoc = docs.find((d) => d.gvk.kind === 'JoinConfiguration')
  if (!joinDoc) {
    ctx.report.add({code: 'missing-document', message: noJoin, severity: 'error'})
    return
  }

  if (!checkVersion(joinDoc, ctx)) return
  const join = decode(joinDoc, ctx, true)
  if (!join) return
  const docFor = () => joinDoc
  const defaults = joinDefaultsProblem(join)
  if (defaults) {
    fieldProblems([defaults], docFor, ctx)
    return
  }

  const problems = validateJoin(join)
  fieldProblems(problems, docFor, ctx)
  if (problems.length === 0) fieldProblems(discoveryPinProblems(join), docFor, ctx)
}

function runReset(docs: Doc[], ctx: Context): void {
  const resetDoc = docs.find((d) => isKubeadm(d, 'ResetConfiguration'))!
  if (!checkVersion(resetDoc, ctx)) return
  const reset = decode(resetDoc, ctx, true)
  if (reset) fieldProblems(validateReset(reset), () => resetDoc, ctx)
}
