/**
 * The wire protocol between the lab's stub `kubeadm` (bash, inside a VM) and the lab supervisor.
 * Bash has no TLS and no JSON, but it has `/dev/tcp`, `read` and coreutils' `base64`: so every
 * message is one line of space-separated words, and any text in it is base64 (`-` for the empty
 * string), which keeps arguments, output and file contents free of quoting problems.
 *
 * stub → supervisor, once:   KPLAB1 <command> <version> <euid> <cwd> <arg>…
 * supervisor → stub:         out <text> | err <text>        (print on stdout / stderr)
 *                            run <arg>…                     (run this locally, answer `rc <code> <output>`)
 *                            ask <prompt>                   (print it, read a line of stdin, answer `answer <line>`)
 *                            exit <code>                    (the end)
 * Secrets never travel in a request line: the stub sends argv only, and kubeadm's secrets live in
 * the config files the supervisor reads from the VM itself.
 */

export const PROTOCOL_MAGIC = 'KPLAB1'

export interface StubRequest {
  args: string[]
  command: string
  cwd: string
  euid: number
  /** The stub's package version (the kubeadm binary's version), e.g. 1.31.8. */
  version: string
}

export function encodeWord(text: string): string {
  return text === '' ? '-' : Buffer.from(text, 'utf8').toString('base64')
}

export function decodeWord(word: string): string {
  if (word === '-') return ''
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(word)) throw new Error(`not base64: ${word.slice(0, 20)}`)
  return Buffer.from(word, 'base64').toString('utf8')
}

export function encodeRequest(request: StubRequest): string {
  return [PROTOCOL_MAGIC, request.command, request.version, String(request.euid), encodeWord(request.cwd), ...request.args.map(encodeWord)].join(' ')
}

/** Parses the stub's request line; throws a message fit for the stub's stderr. */
export function parseRequest(line: string): StubRequest {
  const words = line.trim().split(' ')
  const [magic, command, version, euid, cwd, ...args] = words
  if (magic !== PROTOCOL_MAGIC || !command || !version || euid === undefined || cwd === undefined) throw new Error('kp lab: the stub and the lab supervisor do not speak the same protocol (rebuild the lab: kp lab down && kp lab up)')
  if (!/^\d+$/.test(euid)) throw new Error(`kp lab: bad uid in the stub's request: ${euid}`)
  return {args: args.map(decodeWord), command, cwd: decodeWord(cwd), euid: Number(euid), version}
}

/** A reply line: `out`, `err`, `ask` carry one text; `run` an argv; `exit` a code. */
export function replyLine(kind: 'ask' | 'err' | 'out', text: string): string
export function replyLine(kind: 'run', argv: readonly string[]): string
export function replyLine(kind: 'exit', code: number): string
export function replyLine(kind: 'ask' | 'err' | 'exit' | 'out' | 'run', value: number | readonly string[] | string): string {
  if (kind === 'exit') return `exit ${value as number}`
  if (kind === 'run') return `run ${(value as readonly string[]).map(encodeWord).join(' ')}`
  return `${kind} ${encodeWord(value as string)}`
}

/** The stub's answer to `run` (`rc <code> <output>`) or `ask` (`answer <line>`). */
export function parseAnswer(line: string): {code: number; output: string} | {answer: string} {
  const [kind, a = '-', b = '-'] = line.trim().split(' ')
  if (kind === 'rc' && /^\d+$/.test(a)) return {code: Number(a), output: decodeWord(b)}
  if (kind === 'answer') return {answer: decodeWord(a)}
  throw new Error(`unexpected answer from the stub: ${line.slice(0, 40)}`)
}
