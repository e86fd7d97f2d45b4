import {chmodSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {resolveSecret, SecretError} from '../../src/lib/config/secrets.js'
import {clearSecretsForTests, redact, REDACTED} from '../../src/lib/redact.js'
import {tempDir} from '../helpers/cli.js'

afterEach(() => clearSecretsForTests())

function secretFile(dir: string, name: string, content: string, mode: number): string {
  const file = path.join(dir, name)
  writeFileSync(file, content)
  chmodSync(file, mode)
  return file
}

describe('{env: VAR}', () => {
  it('reads the variable and registers it for redaction', async () => {
    const value = await resolveSecret({env: 'PVE_SECRET'}, {dir: '/', env: {PVE_SECRET: 'env-secret-value'}})
    expect(value).toBe('env-secret-value')
    expect(redact('token env-secret-value')).toBe(`token ${REDACTED}`)
  })

  it('names a missing variable and says to export it', async () => {
    await expect(resolveSecret({env: 'PVE_SECRET'}, {dir: '/', env: {}})).rejects.toThrow('environment variable PVE_SECRET is not set: export PVE_SECRET=… before running kp')
  })

  it('refuses an empty variable', async () => {
    await expect(resolveSecret({env: 'PVE_SECRET'}, {dir: '/', env: {PVE_SECRET: ''}})).rejects.toBeInstanceOf(SecretError)
  })
})

describe('{file: path}', () => {
  it.each([0o600, 0o400])('reads a file with mode %o, relative to the config folder, without its trailing newline', async (mode) => {
    const dir = tempDir()
    secretFile(dir, 'pve-token', 'file-secret-value\n', mode)
    await expect(resolveSecret({file: './pve-token'}, {dir})).resolves.toBe('file-secret-value')
    expect(redact('file-secret-value')).toBe(REDACTED)
  })

  it.each([0o644, 0o640, 0o604, 0o660])('refuses mode %o, saying to chmod 600, without showing the secret', async (mode) => {
    const dir = tempDir()
    const file = secretFile(dir, 'pve-token', 'visible-secret-value\n', mode)
    const error = (await resolveSecret({file: 'pve-token'}, {dir}).catch((e: unknown) => e)) as Error
    expect(error).toBeInstanceOf(SecretError)
    expect(error.message).toContain(`run chmod 600 ${file}`)
    expect(error.message).toContain(`(mode 0${mode.toString(8)})`)
    expect(error.message).not.toContain('visible-secret-value')
  })

  it('refuses a missing file, naming it', async () => {
    const dir = tempDir()
    await expect(resolveSecret({file: 'nope'}, {dir})).rejects.toThrow(`secret file ${path.join(dir, 'nope')} does not exist`)
  })

  it('refuses an empty file', async () => {
    const dir = tempDir()
    secretFile(dir, 'empty', '\n', 0o600)
    await expect(resolveSecret({file: 'empty'}, {dir})).rejects.toThrow(/is empty$/)
  })
})

describe('{command: …}', () => {
  it('runs without a shell in the config folder and takes the first line of output', async () => {
    const dir = tempDir()
    writeFileSync(path.join(dir, 'store'), 'command-secret-value\nurl: https://pve\n')
    await expect(resolveSecret({command: 'cat store'}, {dir})).resolves.toBe('command-secret-value')
    expect(redact('x command-secret-value')).toBe(`x ${REDACTED}`)
    expect(redact('url: https://pve')).toBe('url: https://pve')
  })

  it("reports a failure with stderr's first line and never stdout", async () => {
    // The marker is built at run time so the command line itself (which is shown) does not hold it.
    const command = `${JSON.stringify(process.execPath)} -e 'console.log("stdout-" + "never-shown"); console.error("store locked"); process.exit(2)'`
    const error = (await resolveSecret({command}, {dir: tempDir()}).catch((e: unknown) => e)) as Error
    expect(error).toBeInstanceOf(SecretError)
    expect(error.message).toMatch(/exited with code 2: store locked$/)
    expect(error.message).not.toContain('stdout-never-shown')
  })

  it('refuses empty output', async () => {
    const command = `${JSON.stringify(process.execPath)} -e 'console.log("")'`
    await expect(resolveSecret({command}, {dir: tempDir()})).rejects.toThrow(/printed nothing on its first line/)
  })

  it('refuses a command line that needs a shell', async () => {
    await expect(resolveSecret({command: 'pass show x | head -1'}, {dir: tempDir()})).rejects.toThrow(/would be interpreted by a shell/)
  })
})
