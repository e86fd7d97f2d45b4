import {chmodSync, copyFileSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {parseEnvelope, repoRoot, runKp, tempDir} from '../helpers/cli.js'

const brokenDir = path.join(repoRoot, 'test', 'fixtures', 'config', 'broken')
const fixtures = readdirSync(brokenDir).filter((f) => f.endsWith('.yaml')).sort()

/** Each broken file says in its first lines what kp must report: `# expect-key:`, `# expect-at:`, `# expect-text:`. */
function expectations(file: string): {at: string; key: string; text: string} {
  const text = readFileSync(file, 'utf8')
  const header = (name: string) => {
    const match = new RegExp(`^# expect-${name}: ?(.*)$`, 'm').exec(text)
    if (!match) throw new Error(`${file} has no "# expect-${name}:" line`)
    return match[1]!.trim()
  }

  return {at: header('at'), key: header('key'), text: header('text')}
}

/** Copy a fixture to a fresh folder, with a secret file whose mode git could not keep. */
function stage(fixture: string): string {
  const dir = tempDir()
  const file = path.join(dir, 'kp.yaml')
  copyFileSync(path.join(brokenDir, fixture), file)
  writeFileSync(path.join(dir, 'pve-token'), 'mode-0644-secret-value\n')
  chmodSync(path.join(dir, 'pve-token'), 0o644)
  return file
}

describe('kp config validate on broken files', () => {
  it('has a corpus covering every kind of mistake', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(13)
  })

  it.each(fixtures)('%s: exit 2, names the key and its position, no stack trace, one screen', async (fixture) => {
    const file = stage(fixture)
    const expected = expectations(path.join(brokenDir, fixture))
    const {code, stderr, stdout} = await runKp(['config', 'validate', '-c', file], {env: {PVE_TOKEN_SECRET: 'unused-env-secret'}})

    expect(code).toBe(2)
    expect(stdout).toBe('')
    const position = expected.at === 'none' ? '' : `:${expected.at}`
    expect(stderr).toContain(`${file}${position}: ${expected.key ? `${expected.key}: ` : ''}`)
    expect(stderr).toContain(expected.text)
    expect(stderr).toMatch(/^Error: .* is not valid \(\d+ problems?\):/)
    expect(stderr).toContain('Hint: ')
    expect(stderr).not.toMatch(/^ {4}at /m)
    expect(`${stdout}${stderr}`.split('\n').length).toBeLessThan(40)
    expect(stderr).not.toContain('mode-0644-secret-value')
    expect(stderr).not.toContain('stdout-must-not-2-leak')
  })

  it.each(fixtures)('%s --json: one error envelope with exit code 2', async (fixture) => {
    const file = stage(fixture)
    const expected = expectations(path.join(brokenDir, fixture))
    const {code, stderr, stdout} = await runKp(['config', 'validate', '-c', file, '--json'])

    expect(code).toBe(2)
    expect(stderr).toBe('')
    const envelope = parseEnvelope(stdout)
    expect(envelope.ok).toBe(false)
    expect(envelope.command).toBe('config validate')
    expect(envelope.error).toMatchObject({exitCode: 2, kind: 'config'})
    expect(envelope.error?.message).toContain(expected.key ? `${expected.key}: ` : expected.text)
    expect(envelope.error?.hint).toContain('kp config schema')
    expect(stdout).not.toContain('stdout-must-not-2-leak')
  })

  it('explains a missing file', async () => {
    const file = path.join(tempDir(), 'kp.yaml')
    const {code, stderr} = await runKp(['config', 'validate', '-c', file])
    expect(code).toBe(2)
    expect(stderr).toBe(`Error: no configuration file at ${file}\n  Hint: Create one with "kp config init", or point to yours with -c/--config or $KP_CONFIG.\n`)
  })

  it('finds the file through $KP_CONFIG', async () => {
    const file = stage('missing-section.yaml')
    const {code, stderr} = await runKp(['config', 'validate'], {env: {KP_CONFIG: file}})
    expect(code).toBe(2)
    expect(stderr).toContain(`${file}: network: required section is missing`)
  })

  it('says a 5000-deep file is nested too deeply, with the limit, exit 2 and no stack trace', async () => {
    const file = path.join(tempDir(), 'kp.yaml')
    writeFileSync(file, `cluster:\n  name: deep\n  cni: ${'{a: '.repeat(5000)}1${'}'.repeat(5000)}\n`)
    const {code, stderr} = await runKp(['config', 'validate', '-c', file])
    expect(code).toBe(2)
    expect(stderr).toContain(`${file}:3:128: nested too deeply: more than 32 levels (kp.yaml needs 4); is this the right file?`)
    expect(stderr).not.toContain('call stack')
    expect(stderr).not.toMatch(/^ {4}at /m)
  })
})
