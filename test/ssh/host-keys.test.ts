import {execFileSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {checkHostKey, fingerprint, hostFieldMatches, hostKeyAlgorithms, keyTypeOf, parseKnownHosts} from '../../src/lib/ssh/host-keys.js'
import {asRoot, commandLine, shellQuote, sudoWantsPassword} from '../../src/lib/ssh/quote.js'
import {tempDir} from '../helpers/cli.js'

function keyPair(dir: string, name: string, type = 'ed25519'): {blob: Buffer; line: string; pub: string} {
  const file = path.join(dir, name)
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', file])
  const pub = `${file}.pub`
  const [t, key] = readFileSync(pub, 'utf8').split(/\s+/)
  return {blob: Buffer.from(key!, 'base64'), line: `${t} ${key}`, pub}
}

describe('host keys', () => {
  const dir = tempDir('kp-hostkeys-')
  const a = keyPair(dir, 'a')
  const b = keyPair(dir, 'b')
  const rsa = keyPair(dir, 'r', 'rsa')

  it('computes the fingerprint ssh-keygen -lf shows, and the key type from the blob', () => {
    expect(fingerprint(a.blob)).toBe(execFileSync('ssh-keygen', ['-lf', a.pub], {encoding: 'utf8'}).split(' ')[1])
    expect(keyTypeOf(a.blob)).toBe('ssh-ed25519')
    expect(keyTypeOf(rsa.blob)).toBe('ssh-rsa')
  })

  it('matches hashed entries written by ssh-keygen -H, for port 22 and other ports', () => {
    const file = path.join(dir, 'hashed')
    writeFileSync(file, `10.0.0.5 ${a.line}\n[10.0.0.6]:2222 ${b.line}\n`)
    execFileSync('ssh-keygen', ['-H', '-f', file], {stdio: 'ignore'})
    const entries = parseKnownHosts(readFileSync(file, 'utf8'), file)
    expect(entries.every((e) => e.hosts.startsWith('|1|'))).toBe(true)
    expect(checkHostKey(entries, '10.0.0.5', 22, a.blob).status).toBe('known')
    expect(checkHostKey(entries, '10.0.0.6', 2222, b.blob).status).toBe('known')
    expect(checkHostKey(entries, '10.0.0.6', 22, b.blob).status).toBe('unknown')
    expect(checkHostKey(entries, '10.0.0.5', 22, b.blob).status).toBe('changed')
  })

  it('understands comma lists, wildcards, negation and markers', () => {
    expect(hostFieldMatches('cp1,10.0.0.11', '10.0.0.11')).toBe(true)
    expect(hostFieldMatches('10.0.0.*,!10.0.0.13', '10.0.0.12')).toBe(true)
    expect(hostFieldMatches('10.0.0.*,!10.0.0.13', '10.0.0.13')).toBe(false)
    expect(hostFieldMatches('[10.0.0.?]:2222', '[10.0.0.1]:2222')).toBe(true)
    const entries = parseKnownHosts(`# comment\n@cert-authority * ${b.line}\n@revoked 10.0.0.* ${b.line}\n10.0.0.7 ${a.line}\n`, 'f')
    expect(checkHostKey(entries, '10.0.0.7', 22, b.blob).status).toBe('revoked')
    expect(checkHostKey(entries, '10.0.0.8', 22, a.blob).status).toBe('unknown')
  })

  it('asks the server for the pinned key types first', () => {
    const entries = parseKnownHosts(`[h]:2222 ${rsa.line}\n`, 'f')
    expect(hostKeyAlgorithms(entries, 'h', 2222).slice(0, 3)).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'])
    expect(hostKeyAlgorithms(entries, 'other', 22)[0]).toBe('ssh-ed25519')
  })
})

describe('shell quoting', () => {
  const words = ['plain', 'with space', "it's", '$HOME', '`id`', 'a\\b', '', '*', 'new\nline', '--flag=x']

  it('quotes argv words so the remote shell passes them through unchanged', () => {
    const out = execFileSync('sh', ['-c', `printf '<%s>' ${words.map((w) => shellQuote(w)).join(' ')}`], {encoding: 'utf8'})
    expect(out).toBe(words.map((w) => `<${w}>`).join(''))
    expect(commandLine(['ls', '-l', '/etc/x y'])).toBe("ls -l '/etc/x y'")
    expect(commandLine('ls | wc -l')).toBe('ls | wc -l')
  })

  it('runs the whole command line as root under sudo -n, not just its first word', () => {
    expect(asRoot('echo a > /etc/x', 'debian')).toBe("sudo -n -- sh -c 'echo a > /etc/x'")
    expect(asRoot('id', 'root')).toBe('id')
    expect(sudoWantsPassword('sudo: a password is required\n')).toBe(true)
    expect(sudoWantsPassword('E: a password is required\n')).toBe(false)
  })
})
