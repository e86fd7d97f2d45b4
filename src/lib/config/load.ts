/**
 * Load kp.yaml: read, parse keeping positions, validate, resolve relative paths and (when asked)
 * secrets. Every problem found is reported at once as a ConfigError (exit 2) whose lines read
 * `kp.yaml:LINE:COL: key.path: what is wrong`.
 */
import {createHash} from 'node:crypto'
import {readFile, stat} from 'node:fs/promises'
import path from 'node:path'

import {Lexer, LineCounter, Parser, parseDocument, type Document} from 'yaml'

import {ConfigError, errorMessage} from '../errors.js'
import {expandHome} from '../paths.js'
import {locate, pathAt} from './locate.js'
import {formatPath, type Problem} from './problems.js'
import type {KpConfig} from './schema.js'
import {resolveSecret, SecretError} from './secrets.js'
import {parseConfig} from './validate.js'

export interface LoadedConfig {
  /** Absolute path of the file. */
  path: string
  /** Its folder, which relative paths in it resolve against. */
  dir: string
  /** sha256 hex of the file's bytes: journals record it so resume can tell the config changed. */
  hash: string
  /** Relative paths are absolute here, `~` expanded. */
  config: KpConfig
  /** Present when loaded with resolveSecrets; every value is registered for redaction. */
  secrets?: {proxmoxTokenSecret?: string}
}

export interface LoadOptions {
  /** Check that files the config names (identityFile, caFile, a local CNI manifest) exist. */
  checkFiles?: boolean
  env?: NodeJS.ProcessEnv
  resolveSecrets?: boolean
  signal?: AbortSignal
}

export const MAX_LISTED_PROBLEMS = 20
/**
 * kp.yaml is four levels deep (nodes → a node → its keys). The YAML parser recurses once per level
 * and runs out of stack some thousands deep, so a file past this is refused before it is parsed.
 */
export const MAX_NESTING = 32
const FIX_HINT = 'Fix the lines above and check again with "kp config validate". "kp config schema" prints every key; docs/configuration.md explains them.'

interface LocatedProblem extends Problem {
  offset?: number
}

export async function loadConfig(file: string, options: LoadOptions = {}): Promise<LoadedConfig> {
  const abs = path.resolve(expandHome(file))
  const dir = path.dirname(abs)
  const bytes = await readConfigFile(abs)
  const hash = createHash('sha256').update(bytes).digest('hex')
  const lineCounter = new LineCounter()
  const source = bytes.toString('utf8')
  const deep = nestingBeyond(source, MAX_NESTING)
  if (deep !== undefined) {
    const counter = new LineCounter()
    counter.addNewLine(0)
    for (let i = source.indexOf('\n'); i !== -1 && i < deep; i = source.indexOf('\n', i + 1)) counter.addNewLine(i + 1)
    throw configError(abs, [{message: `nested too deeply: more than ${MAX_NESTING} levels (kp.yaml needs 4); is this the right file?`, offset: deep, path: []}], counter)
  }

  const doc = parseDocument(source, {lineCounter, prettyErrors: false, uniqueKeys: true})
  const problems: LocatedProblem[] = []
  const fail = () => configError(abs, problems, lineCounter)

  if (doc.errors.length > 0) {
    for (const error of doc.errors) {
      const offset = error.pos[0]
      // Past a syntax error the tree is a guess: keep the path only while its keys look like keys.
      const guessed = pathAt(doc, pathOffset(source, offset))
      // A trailing list index names an item the broken list may not really have.
      const end = guessed.findIndex((segment) => typeof segment === 'string' && !/^[A-Za-z_][\w-]*$/.test(segment))
      const keyPath = end === -1 ? guessed : guessed.slice(0, end)
      while (typeof keyPath.at(-1) === 'number') keyPath.pop()
      problems.push({message: yamlMessage(error.code, error.message), offset, path: keyPath})
    }

    throw fail()
  }

  let data: unknown
  try {
    data = doc.toJS({maxAliasCount: 1000})
  } catch (error) {
    problems.push({message: `not valid YAML: ${errorMessage(error)}`, path: []})
    throw fail()
  }

  const parsed = parseConfig(data)
  if (!parsed.ok) {
    problems.push(...parsed.problems.map((p) => at(doc, p)))
    throw fail()
  }

  const config = resolvePaths(parsed.config, dir)
  if (options.checkFiles) problems.push(...(await missingFiles(config)).map((p) => at(doc, p)))
  let secrets: LoadedConfig['secrets']
  if (options.resolveSecrets) {
    secrets = {}
    if (config.proxmox) {
      const source = config.proxmox.tokenSecret
      try {
        secrets.proxmoxTokenSecret = await resolveSecret(source, {dir, env: options.env, signal: options.signal})
      } catch (error) {
        if (!(error instanceof SecretError)) throw error
        problems.push(at(doc, {message: error.message, path: ['proxmox', 'tokenSecret', Object.keys(source)[0]!]}))
      }
    }
  }

  if (problems.length > 0) throw fail()
  return {config, dir, hash, path: abs, ...(secrets ? {secrets} : {})}
}

/** The path as the user would type it: relative to the working directory when inside it. */
export function displayPath(abs: string, cwd = process.cwd()): string {
  const relative = path.relative(cwd, abs)
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : abs
}

async function readConfigFile(abs: string): Promise<Buffer> {
  try {
    return await readFile(abs)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') {
      throw new ConfigError(`no configuration file at ${abs}`, {hint: 'Create one with "kp config init", or point to yours with -c/--config or $KP_CONFIG.'})
    }

    if (code === 'EISDIR') throw new ConfigError(`${abs} is a folder, not a configuration file`, {hint: 'Point -c/--config or $KP_CONFIG at the kp.yaml file itself.'})
    throw new ConfigError(`cannot read ${abs}: ${code === 'EACCES' ? 'permission denied' : errorMessage(error)}`)
  }
}

function at(doc: Document, problem: Problem): LocatedProblem {
  return {...problem, offset: locate(doc, problem.path, problem.atKey)}
}

/**
 * Where to look for the key path of a syntax error. Errors about something missing at the end of a
 * line (a closing bracket or quote) are reported at the start of the next line; the key they
 * belong to is the last thing written before it.
 */
function pathOffset(source: string, offset: number): number {
  if (offset > 0 && source[offset - 1] !== '\n') return offset
  let i = offset - 1
  while (i > 0 && /\s/.test(source[i]!)) i--
  return i
}

/**
 * The offset of the first collection nested deeper than `limit`, if any. yaml's CST parser keeps
 * an explicit stack of what is open (the document, the collections, the node being read), so it
 * measures the depth without recursing.
 */
function nestingBeyond(source: string, limit: number): number | undefined {
  const parser = new Parser()
  const collections = new Set(['block-map', 'block-seq', 'flow-collection'])
  for (const lexeme of new Lexer().lex(source)) {
    for (const _ of parser.next(lexeme)) {
      // The documents themselves are parsed again by parseDocument.
    }

    if (parser.stack.length > limit && parser.stack.filter((token) => collections.has(token.type)).length > limit) return parser.offset - lexeme.length
  }

  return undefined
}

function yamlMessage(code: string, message: string): string {
  if (code === 'DUPLICATE_KEY') return 'duplicate key: each key may appear once in a mapping (the second one would silently win)'
  // yaml's messages end with " at line N, column M" and a code frame; we print our own position.
  return `YAML syntax error: ${message.split(/ at line \d+/)[0]!.trim()}`
}

function configError(abs: string, problems: LocatedProblem[], lineCounter: LineCounter): ConfigError {
  const shown = displayPath(abs)
  const sorted = problems
    .map((p, i) => ({...p, i}))
    .sort((a, b) => (a.offset ?? -1) - (b.offset ?? -1) || a.i - b.i)
  const lines = sorted.slice(0, MAX_LISTED_PROBLEMS).map((p) => {
    const pos = p.offset === undefined ? '' : `:${lineCounter.linePos(p.offset).line}:${lineCounter.linePos(p.offset).col}`
    const key = formatPath(p.path)
    return `  ${shown}${pos}: ${key ? `${key}: ` : ''}${p.message}`
  })
  if (sorted.length > MAX_LISTED_PROBLEMS) lines.push(`  … and ${sorted.length - MAX_LISTED_PROBLEMS} more`)
  const count = sorted.length === 1 ? '1 problem' : `${sorted.length} problems`
  return new ConfigError([`${shown} is not valid (${count}):`, ...lines].join('\n'), {hint: FIX_HINT})
}

function resolvePaths(config: KpConfig, dir: string): KpConfig {
  const resolve = (p: string) => path.resolve(dir, expandHome(p))
  const {cluster, proxmox, ssh} = config
  const manifest = /^https:\/\//i.test(cluster.cni.manifest) ? cluster.cni.manifest : resolve(cluster.cni.manifest)
  return {
    ...config,
    cluster: {...cluster, cni: {manifest}, ...(cluster.kubeconfig ? {kubeconfig: resolve(cluster.kubeconfig)} : {})},
    ...(proxmox
      ? {
          proxmox: {
            ...proxmox,
            ...(proxmox.caFile ? {caFile: resolve(proxmox.caFile)} : {}),
            tokenSecret: 'file' in proxmox.tokenSecret ? {file: resolve(proxmox.tokenSecret.file)} : proxmox.tokenSecret,
          },
        }
      : {}),
    ssh: {
      ...ssh,
      ...(ssh.identityFile ? {identityFile: resolve(ssh.identityFile)} : {}),
      ...(ssh.knownHostsFile ? {knownHostsFile: resolve(ssh.knownHostsFile)} : {}),
    },
  }
}

async function missingFiles(config: KpConfig): Promise<Problem[]> {
  const files: Array<[string[], string | undefined]> = [
    [['ssh', 'identityFile'], config.ssh.identityFile],
    [['proxmox', 'caFile'], config.proxmox?.caFile],
    [['cluster', 'cni', 'manifest'], /^https:\/\//i.test(config.cluster.cni.manifest) ? undefined : config.cluster.cni.manifest],
  ]
  const problems: Problem[] = []
  for (const [keyPath, file] of files) {
    if (file === undefined) continue
    const info = await stat(file).catch(() => undefined)
    if (!info) problems.push({message: `${file} does not exist`, path: keyPath})
    else if (!info.isFile()) problems.push({message: `${file} is not a file`, path: keyPath})
  }

  return problems
}
