/**
 * Host key checking the way OpenSSH does it, as pure functions: known_hosts entries (plain, with
 * patterns, or hashed `|1|salt|hash` as ~/.ssh/known_hosts often is), OpenSSH's SHA256
 * fingerprints, and the verdict for the key a server offered.
 */
import {createHash, createHmac} from 'node:crypto'
import {readFileSync} from 'node:fs'

export interface KnownEntry {
  file: string
  line: number
  marker?: '@cert-authority' | '@revoked'
  /** The host field as written: `a,b,[c]:2222` or `|1|salt|hash`. */
  hosts: string
  type: string
  key: string
}

export type HostKeyVerdict =
  | {status: 'known'; entry: KnownEntry}
  | {status: 'unknown'}
  | {status: 'changed'; pinned: KnownEntry[]}
  | {status: 'revoked'; entry: KnownEntry}

/** How known_hosts names a host: bare on port 22, `[host]:port` otherwise. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host.toLowerCase() : `[${host.toLowerCase()}]:${port}`
}

/** OpenSSH's fingerprint: `SHA256:` and the unpadded base64 of the key blob's SHA-256. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`
}

/** The key type named inside a key blob (its first SSH string), e.g. `ssh-ed25519`. */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return 'unknown'
  const len = blob.readUInt32BE(0)
  return blob.subarray(4, 4 + len).toString('latin1')
}

export function parseKnownHosts(text: string, file: string): KnownEntry[] {
  const out: KnownEntry[] = []
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const words = line.split(/\s+/)
    const marker = words[0] === '@revoked' || words[0] === '@cert-authority' ? words.shift() : undefined
    const [hosts, type, key] = words
    if (!hosts || !type || !key) continue
    out.push({file, hosts, key, line: i + 1, type, ...(marker ? {marker: marker as KnownEntry['marker']} : {})})
  }

  return out
}

/** Entries of every file that exists; a missing file is an empty one. */
export function readKnownHostsFiles(files: readonly string[]): KnownEntry[] {
  return files.flatMap((file) => {
    try {
      return parseKnownHosts(readFileSync(file, 'utf8'), file)
    } catch {
      return []
    }
  })
}

/** Does a known_hosts host field name `name`? Hashed entries, comma lists, `*`/`?` and `!negation`. */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|')
    if (!salt || !hash) return false
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash
  }

  let matched = false
  for (const pattern of field.toLowerCase().split(',')) {
    const negated = pattern.startsWith('!')
    if (!globMatch(negated ? pattern.slice(1) : pattern, name)) continue
    if (negated) return false
    matched = true
  }

  return matched
}

function globMatch(pattern: string, name: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === name
  const re = pattern.replaceAll(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.')
  return new RegExp(`^${re}$`).test(name)
}

/**
 * Any entry holding exactly this key: known. Entries for the host but none with this key: changed
 * (whatever their type: kp asks the server for the pinned types first, so a server that still has
 * the pinned key offers it). Nothing for the host: unknown.
 */
export function checkHostKey(entries: readonly KnownEntry[], host: string, port: number, blob: Buffer): HostKeyVerdict {
  const name = knownHostName(host, port)
  const forHost = entries.filter((e) => e.marker !== '@cert-authority' && hostFieldMatches(e.hosts, name))
  const same = (e: KnownEntry) => Buffer.from(e.key, 'base64').equals(blob)
  const revoked = forHost.find((e) => e.marker === '@revoked' && same(e))
  if (revoked) return {entry: revoked, status: 'revoked'}
  const pinned = forHost.filter((e) => e.marker === undefined)
  const match = pinned.find((e) => same(e))
  if (match) return {entry: match, status: 'known'}
  return pinned.length > 0 ? {pinned, status: 'changed'} : {status: 'unknown'}
}

/** ssh2's host key algorithms (Node 20 has ed25519), in its default order. */
const HOST_KEY_ALGORITHMS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']

/**
 * Like OpenSSH, ask for the key types already pinned for this host first; otherwise a server with
 * several keys would offer its favourite, which may not be the pinned one, and look "changed".
 */
export function hostKeyAlgorithms(entries: readonly KnownEntry[], host: string, port: number): string[] {
  const name = knownHostName(host, port)
  const preferred = new Set<string>()
  for (const e of entries) {
    if (e.marker !== undefined || !hostFieldMatches(e.hosts, name)) continue
    for (const algo of e.type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [e.type]) preferred.add(algo)
  }

  return [...HOST_KEY_ALGORITHMS.filter((a) => preferred.has(a)), ...HOST_KEY_ALGORITHMS.filter((a) => !preferred.has(a))]
}
