import {readdirSync, readFileSync, statSync} from 'node:fs'
import path from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {ExternalCommandError, InterruptedError} from '../../src/lib/errors.js'
import {splitCommandLine} from '../../src/lib/exec/argv.js'
import {runCommand} from '../../src/lib/exec/run-command.js'
import {clearSecretsForTests, registerSecret} from '../../src/lib/redact.js'
import {repoRoot} from '../helpers/cli.js'

const node = process.execPath

afterEach(() => clearSecretsForTests())

describe('runCommand', () => {
  it('returns stdout, stderr and the exit code, arguments passed as they are', async () => {
    const result = await runCommand(node, ['-e', 'console.log(process.argv[1]); console.error("note")', '$HOME; ls | cat'])
    expect(result).toEqual({exitCode: 0, stderr: 'note', stdout: '$HOME; ls | cat'})
  })

  it('feeds input to stdin', async () => {
    const result = await runCommand(node, ['-e', 'process.stdin.pipe(process.stdout)'], {input: 'from stdin'})
    expect(result.stdout).toBe('from stdin')
  })

  it("adds env to the process's environment", async () => {
    const result = await runCommand(node, ['-e', 'console.log(process.env.KP_EXEC_TEST, Boolean(process.env.PATH))'], {env: {KP_EXEC_TEST: 'yes'}})
    expect(result.stdout).toBe('yes true')
  })

  it('throws ExternalCommandError on a non-zero exit, with stderr but never stdout', async () => {
    const run = runCommand(node, ['-e', 'console.log("stdout-" + "secret-ish"); console.error("\\nfirst problem\\nsecond"); process.exit(3)'])
    await expect(run).rejects.toBeInstanceOf(ExternalCommandError)
    const error = (await run.catch((e: unknown) => e)) as Error
    expect(error.message).toMatch(/exited with code 3: first problem$/)
    expect(error.message).not.toContain('stdout-secret-ish')
    expect(error.message.split('exited with code 3')[1]).toBe(': first problem')
  })

  it('returns a non-zero exit with reject: false', async () => {
    await expect(runCommand(node, ['-e', 'process.exit(4)'], {reject: false})).resolves.toMatchObject({exitCode: 4})
  })

  it('stops a command at its timeout', async () => {
    const started = Date.now()
    await expect(runCommand(node, ['-e', 'setTimeout(() => {}, 60_000)'], {timeoutMs: 300})).rejects.toThrow(/did not finish within 300ms and was stopped/)
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it('says when the command does not exist', async () => {
    await expect(runCommand('kp-no-such-command', [])).rejects.toThrow('kp-no-such-command: command not found')
  })

  it('throws InterruptedError when its signal aborts', async () => {
    const controller = new AbortController()
    const run = runCommand(node, ['-e', 'setTimeout(() => {}, 60_000)'], {signal: controller.signal})
    setTimeout(() => controller.abort(), 100)
    await expect(run).rejects.toBeInstanceOf(InterruptedError)
  })

  it('redacts registered secrets from its messages', async () => {
    registerSecret('registered-secret-123')
    const run = runCommand(node, ['-e', 'console.error("token registered-secret-123 refused"); process.exit(1)', 'registered-secret-123'])
    await expect(run).rejects.toThrow(/token \[REDACTED\] refused/)
    await expect(run).rejects.not.toThrow(/registered-secret-123/)
  })
})

describe('splitCommandLine', () => {
  it.each([
    ['pass show pve/kp', ['pass', 'show', 'pve/kp']],
    ["  op read 'op://vault/pve token/credential'  ", ['op', 'read', 'op://vault/pve token/credential']],
    [String.raw`cat "my dir/\"quoted\" file"`, ['cat', 'my dir/"quoted" file']],
    [String.raw`cat my\ file ''`, ['cat', 'my file', '']],
    ["sh -c 'echo a | tr a b; exit 0'", ['sh', '-c', 'echo a | tr a b; exit 0']],
  ])('splits %s', (line, argv) => {
    expect(splitCommandLine(line)).toEqual({argv, ok: true})
  })

  it.each([
    ['pass show pve/kp | head -1', /"\|" would be interpreted by a shell/],
    ['cat $HOME/token', /"\$" would be interpreted by a shell/],
    ['cat "$HOME/token"', /inside double quotes would be expanded/],
    ["cat 'unterminated", /unterminated single quote/],
    ['cat "unterminated', /unterminated double quote/],
    ['   ', /the command is empty/],
  ])('refuses %s', (line, error) => {
    const result = splitCommandLine(line)
    expect(result.ok).toBe(false)
    expect(result.ok ? '' : result.error).toMatch(error)
  })
})

describe('the execa boundary', () => {
  it('is crossed only in src/lib/exec', () => {
    const offenders: string[] = []
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir)) {
        const file = path.join(dir, entry)
        if (statSync(file).isDirectory()) walk(file)
        else if (file.endsWith('.ts') && !file.includes(`${path.sep}lib${path.sep}exec${path.sep}`) && /from 'execa'|import\('execa'\)/.test(readFileSync(file, 'utf8'))) offenders.push(file)
      }
    }

    walk(path.join(repoRoot, 'src'))
    expect(offenders).toEqual([])
  })
})
