/**
 * kp's own known_hosts file, in OpenSSH's format so the OpenSSH client can use it too
 * (`ssh -o UserKnownHostsFile=…`). Seeding pins keys read through the Proxmox guest agent; the SSH
 * adapter checks against the same file.
 */
import {readFileSync} from 'node:fs'
import path from 'node:path'

import {writeFileAtomicSync} from './atomic-write.js'

export interface PinnedKey {
  host: string
  key: string
  type: string
}

/** `ssh.knownHostsFile`, else known_hosts in the state dir. */
export function knownHostsPath(configured: string | undefined, stateDir: string): string {
  return configured ?? path.join(stateDir, 'known_hosts')
}

/** A host key line as `type base64` from a `*.pub` file's content (the comment is dropped). */
export function parsePublicKey(text: string): {key: string; type: string} | undefined {
  const [type, key] = text.trim().split(/\s+/)
  if (!type || !key || !/^(ssh-|ecdsa-sha2-)/.test(type) || !/^[A-Za-z0-9+/]+=*$/.test(key)) return undefined
  return {key, type}
}

export function readKnownHosts(file: string): PinnedKey[] {
  let text = ''
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return []
  }

  const out: PinnedKey[] = []
  for (const line of text.split('\n')) {
    const trimmed = line.trim()
    if (!trimmed || trimmed.startsWith('#') || trimmed.startsWith('|') || trimmed.startsWith('@')) continue
    const [hosts, type, key] = trimmed.split(/\s+/)
    if (!hosts || !type || !key) continue
    for (const host of hosts.split(',')) out.push({host, key, type})
  }

  return out
}

/** The keys pinned for a host (several types may be). */
export function pinnedFor(file: string, host: string, port = 22): PinnedKey[] {
  const name = port === 22 ? host : `[${host}]:${port}`
  return readKnownHosts(file).filter((k) => k.host === name)
}

/**
 * Pins `type key` for a host, replacing any other key of the same type for it. Atomic; the file
 * keeps the user's other lines and comments.
 */
export function pinHostKey(file: string, host: string, type: string, key: string, port = 22): void {
  const name = port === 22 ? host : `[${host}]:${port}`
  let lines: string[] = []
  try {
    lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0)
  } catch {
    // a new file
  }

  const kept = lines.filter((line) => {
    const [hosts, t] = line.trim().split(/\s+/)
    return !(hosts?.split(',').includes(name) && t === type)
  })
  kept.push(`${name} ${type} ${key}`)
  writeFileAtomicSync(file, `${kept.join('\n')}\n`, {dirMode: 0o700, mode: 0o600})
}

/** Removes every key pinned for a host (its VM was destroyed). */
export function forgetHost(file: string, host: string, port = 22): void {
  const name = port === 22 ? host : `[${host}]:${port}`
  let lines: string[]
  try {
    lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0)
  } catch {
    return
  }

  const kept = lines.filter((line) => !line.trim().split(/\s+/)[0]?.split(',').includes(name))
  writeFileAtomicSync(file, kept.length > 0 ? `${kept.join('\n')}\n` : '', {mode: 0o600})
}
