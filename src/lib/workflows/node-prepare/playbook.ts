/**
 * Runs a playbook of playbooks/node-prepare/ on a node: `sudo -n bash -s -- MODE ARGS…` with the
 * script on stdin, so nothing is left on the node and kp's version of the script is what runs.
 * The contract (playbooks/node-prepare/README.md): `check` exits 0 when in place, 10 with one line per change
 * it would make; `apply` guards before it acts and ends with `KP_CHANGED=0|1`. So every playbook is
 * safe to run again from the start: after a dropped SSH session the adapter reruns it (idempotent).
 */
import {readFileSync} from 'node:fs'
import path from 'node:path'

import {ExitCode, KpError} from '../../errors.js'
import {packageRoot} from '../../package-root.js'
import type {SshSession} from '../../ssh/types.js'

const cache = new Map<string, string>()

/** A folder of playbooks/ and the helper files sent ahead of each of its playbooks (paths under playbooks/). */
export interface PlaybookFolder {
  dir: string
  helpers: string[]
}

export const NODE_PREPARE: PlaybookFolder = {dir: 'node-prepare', helpers: ['node-prepare/lib.sh']}

/** The helpers (lib.sh…) followed by the playbook: one stdin for `bash -s`. */
function script(name: string, folder: PlaybookFolder): string {
  const key = `${folder.dir}/${name}`
  let text = cache.get(key)
  if (text === undefined) {
    const read = (file: string) => readFileSync(path.join(packageRoot(), 'playbooks', file), 'utf8')
    text = [...folder.helpers, `${folder.dir}/${name}.sh`].map((file) => read(file)).join('\n')
    cache.set(key, text)
  }

  return text
}

export const CHECK_NEEDS_CHANGE = 10

function failure(session: SshSession, name: string, code: number, stderr: string, stdout: string, folder: PlaybookFolder): KpError {
  const tail = (stderr.trim() || stdout.trim()).split('\n').slice(-8).join('\n')
  return new KpError('ssh', ExitCode.stepFailed, `${session.target.name}: playbook ${name}.sh exited ${code}${tail ? `:\n${tail}` : ''}`, {
    hint: `run it by hand to see more: kp ssh ${session.target.name} -- sudo bash -s -- check … < playbooks/${folder.dir}/${name}.sh`,
  })
}

/** Runs a playbook with no mode (facts.sh, verify.sh). */
export async function runPlaybook(
  session: SshSession,
  name: string,
  args: readonly string[],
  signal?: AbortSignal,
  folder = NODE_PREPARE,
): Promise<{code: number; stderr: string; stdout: string}> {
  const result = await session.exec(['bash', '-s', '--', ...args], {allowFailure: true, idempotent: true, input: script(name, folder), signal, sudo: true})
  return {code: result.code, stderr: result.stderr, stdout: result.stdout}
}

/** `check`: undefined when the node is as wanted, else the lines saying what would change. */
export async function checkPlaybook(session: SshSession, name: string, args: readonly string[], signal?: AbortSignal, folder = NODE_PREPARE): Promise<string[] | undefined> {
  const result = await session.exec(['bash', '-s', '--', 'check', ...args], {allowFailure: true, idempotent: true, input: script(name, folder), signal, sudo: true})
  if (result.code === 0) return undefined
  if (result.code === CHECK_NEEDS_CHANGE) return result.stdout.split('\n').map((l) => l.trim()).filter(Boolean)
  throw failure(session, name, result.code, result.stderr, result.stdout, folder)
}

/** `apply`: whether it changed anything, and the lines saying what it did. */
export async function applyPlaybook(
  session: SshSession,
  name: string,
  args: readonly string[],
  signal?: AbortSignal,
  folder = NODE_PREPARE,
): Promise<{changed: boolean; lines: string[]}> {
  const result = await session.exec(['bash', '-s', '--', 'apply', ...args], {allowFailure: true, idempotent: true, input: script(name, folder), signal, sudo: true})
  if (result.code !== 0) throw failure(session, name, result.code, result.stderr, result.stdout, folder)
  const lines = result.stdout.split('\n').map((l) => l.trim()).filter(Boolean)
  const marker = lines.at(-1)
  if (marker !== 'KP_CHANGED=0' && marker !== 'KP_CHANGED=1') throw failure(session, name, result.code, 'the playbook did not end with KP_CHANGED=0|1', result.stdout, folder)
  return {changed: marker === 'KP_CHANGED=1', lines: lines.slice(0, -1)}
}
