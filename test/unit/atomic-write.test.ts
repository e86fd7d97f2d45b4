import {existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {FileExistsError, writeFileAtomic, writeFileAtomicSync} from '../../src/lib/atomic-write.js'
import {forgetHost, pinHostKey} from '../../src/lib/known-hosts.js'
import {writeStatus} from '../../src/lib/lab/cli/status.js'
import {tempDir} from '../helpers/cli.js'

const KEY = 'AAAAC3NzaC1lZDI1NTE5AAAAIKp1bG9rZXktZm9yLXRlc3RzLW9ubHktMDAwMDAw'
const mode = (file: string): number => statSync(file).mode & 0o777

let umask: number
beforeEach(() => {
  umask = process.umask(0o022)
})
afterEach(() => {
  process.umask(umask)
})

/** A file outside the folder that a link planted at a temporary name points at. */
function plantLink(dir: string, linkName: string): string {
  const victim = path.join(tempDir(), 'victim')
  writeFileSync(victim, 'precious\n')
  symlinkSync(victim, path.join(dir, linkName))
  return victim
}

describe('a link planted where a writer used to put its temporary file', () => {
  // known_hosts and the lab's status file used `<file>.tmp-<pid>`: anyone able to write the folder
  // could point that name elsewhere and have kp write through it (and rename the link into place).
  it('pinning a host key does not follow it', () => {
    const dir = tempDir()
    const file = path.join(dir, 'known_hosts')
    const victim = plantLink(dir, `known_hosts.tmp-${process.pid}`)

    pinHostKey(file, '10.0.0.1', 'ssh-ed25519', KEY)

    expect(readFileSync(victim, 'utf8')).toBe('precious\n')
    expect(lstatSync(file).isFile()).toBe(true)
    expect(readFileSync(file, 'utf8')).toBe(`10.0.0.1 ssh-ed25519 ${KEY}\n`)
    expect(mode(file)).toBe(0o600)
  })

  it('forgetting a host does not follow it', () => {
    const dir = tempDir()
    const file = path.join(dir, 'known_hosts')
    pinHostKey(file, '10.0.0.1', 'ssh-ed25519', KEY)
    const victim = plantLink(dir, `known_hosts.tmp-${process.pid}`)

    forgetHost(file, '10.0.0.1')

    expect(readFileSync(victim, 'utf8')).toBe('precious\n')
    expect(lstatSync(file).isFile()).toBe(true)
    expect(readFileSync(file, 'utf8')).toBe('')
  })

  it("the lab's status file does not follow it", () => {
    const dir = tempDir()
    const file = path.join(dir, 'status.json')
    const victim = plantLink(dir, `status.json.tmp-${process.pid}`)

    writeStatus(file, {cluster: 'x', durations: {}, phase: 'starting', pid: process.pid, startedAt: 'now'} as never)

    expect(readFileSync(victim, 'utf8')).toBe('precious\n')
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({phase: 'starting'})
  })
})

describe('writeFileAtomic', () => {
  it('gives the file exactly the mode asked for, whatever the umask and the old file', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'a')
    process.umask(0o077)
    await writeFileAtomic(file, 'one', {mode: 0o644})
    expect(mode(file)).toBe(0o644)

    process.umask(0)
    writeFileSync(file, 'old', {mode: 0o666})
    writeFileAtomicSync(file, 'two', {mode: 0o600})
    expect(mode(file)).toBe(0o600)
    expect(readFileSync(file, 'utf8')).toBe('two')
  })

  it('creates a missing folder with dirMode', () => {
    const dir = tempDir()
    const file = path.join(dir, 'sub', 'deeper', 'f')
    writeFileAtomicSync(file, 'x', {dirMode: 0o700, mode: 0o600})
    expect(mode(path.join(dir, 'sub', 'deeper'))).toBe(0o700)
    expect(readFileSync(file, 'utf8')).toBe('x')
  })

  it('leaves only the target behind: no temporary file after success or failure', async () => {
    const dir = tempDir()
    await writeFileAtomic(path.join(dir, 'ok'), 'x', {mode: 0o600})
    // Renaming a file over a folder fails: the temporary file must go.
    mkdirSync(path.join(dir, 'folder'))
    expect(() => writeFileAtomicSync(path.join(dir, 'folder'), 'x', {mode: 0o600})).toThrow()
    await expect(writeFileAtomic(path.join(dir, 'folder'), 'x', {mode: 0o600})).rejects.toThrow()
    await expect(writeFileAtomic(path.join(dir, 'ok'), 'y', {beforeRename: () => Promise.reject(new Error('no')), mode: 0o600})).rejects.toThrow('no')

    expect(readdirSync(dir).sort()).toEqual(['folder', 'ok'])
    expect(readFileSync(path.join(dir, 'ok'), 'utf8')).toBe('x')
  })

  it('runs beforeRename while the old file is still in place', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'f')
    writeFileSync(file, 'old')
    let seen = ''
    await writeFileAtomic(file, 'new', {beforeRename: () => void (seen = readFileSync(file, 'utf8')), mode: 0o600})
    expect([seen, readFileSync(file, 'utf8')]).toEqual(['old', 'new'])
  })

  it('replaces a link at the target instead of writing through it', () => {
    const dir = tempDir()
    const victim = plantLink(dir, 'f')
    writeFileAtomicSync(path.join(dir, 'f'), 'new', {mode: 0o600})
    expect(readFileSync(victim, 'utf8')).toBe('precious\n')
    expect(lstatSync(path.join(dir, 'f')).isFile()).toBe(true)
  })
})

describe('overwrite: false (kp config init without --force)', () => {
  it('refuses an existing file with exit 4 and the hint given, and leaves it and the folder as they were', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'kp.yaml')
    writeFileSync(file, 'mine\n')

    const refused = writeFileAtomic(file, 'theirs\n', {existsHint: 'Pass --force.', mode: 0o644, overwrite: false})

    await expect(refused).rejects.toBeInstanceOf(FileExistsError)
    await expect(refused).rejects.toMatchObject({exitCode: 4, hint: 'Pass --force.', message: `${file} already exists; it was left as it is.`})
    expect(() => writeFileAtomicSync(file, 'theirs\n', {mode: 0o644, overwrite: false})).toThrow(FileExistsError)
    expect(readFileSync(file, 'utf8')).toBe('mine\n')
    expect(readdirSync(dir)).toEqual(['kp.yaml'])
  })

  it('refuses a dangling link at the target instead of creating the file it points to', () => {
    const dir = tempDir()
    const elsewhere = path.join(tempDir(), 'created-through-the-link')
    symlinkSync(elsewhere, path.join(dir, 'kp.yaml'))

    expect(() => writeFileAtomicSync(path.join(dir, 'kp.yaml'), 'x', {mode: 0o644, overwrite: false})).toThrow(FileExistsError)
    expect(existsSync(elsewhere)).toBe(false)
    expect(readlinkSync(path.join(dir, 'kp.yaml'))).toBe(elsewhere)
  })

  it('writes a new file whole, with its mode', () => {
    const dir = tempDir()
    writeFileAtomicSync(path.join(dir, 'new'), 'content', {mode: 0o640, overwrite: false})
    expect(readFileSync(path.join(dir, 'new'), 'utf8')).toBe('content')
    expect(mode(path.join(dir, 'new'))).toBe(0o640)
    expect(readdirSync(dir)).toEqual(['new'])
  })
})
