/**
 * The README's two set-up commands (scripts/setup.sh, npm run demo → scripts/demo.js) work from a
 * root shell on a minimal Debian without sudo, and for a user who has sudo. They run here with a
 * PATH of stubs only (no real sudo, apt-get or npm), so nothing is installed: the stubs record
 * their arguments. The non-root cases run as nobody (setpriv), so they need root too.
 */
import {spawnSync} from 'node:child_process'
import {chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {repoRoot} from '../helpers/cli.js'

const isRoot = process.getuid?.() === 0
const NOBODY = 65_534
const setup = path.join(repoRoot, 'scripts', 'setup.sh')
const demo = path.join(repoRoot, 'scripts', 'demo.js')

let dir: string
let bin: string
let calls: string

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'kp-setup-'))
  chmodSync(dir, 0o755)
  bin = path.join(dir, 'bin')
  calls = path.join(dir, 'calls.log')
  spawnSync('mkdir', ['-m', '0755', bin])
  writeFileSync(calls, '', {mode: 0o666})
  chmodSync(calls, 0o666)
  for (const tool of ['dirname', 'id']) symlinkSync(`/usr/bin/${tool}`, path.join(bin, tool))
  // Every Debian package is missing; npm and apt-get only record that they were asked.
  stub('dpkg', 'exit 1')
  stub('npm', 'exit 0')
  stub('apt-get', 'exit 0')
})

afterEach(() => rmSync(dir, {force: true, recursive: true}))

function stub(name: string, body: string): void {
  writeFileSync(path.join(bin, name), `#!/bin/bash\nprintf '%s\\n' "${name} $*" >>${calls}\n${body}\n`, {mode: 0o755})
}

function run(command: string[], asNobody = false) {
  const env = {HOME: dir, PATH: bin}
  const argv = asNobody ? ['/usr/bin/setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...command] : command
  const result = spawnSync(argv[0]!, argv.slice(1), {cwd: dir, encoding: 'utf8', env})
  return {code: result.status, recorded: readFileSync(calls, 'utf8').split('\n').filter(Boolean), stderr: result.stderr, stdout: result.stdout}
}

describe("the README's set-up commands", () => {
  it('are the two scripts tested here, without sudo in front (a minimal Debian has none)', () => {
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8')
    const block = /## Try it[^]*?```sh\n([^]*?)```/.exec(readme)?.[1] ?? ''
    const commands = block.split('\n').map((line) => line.replace(/#.*/, '').trim()).filter(Boolean)
    expect(commands).toEqual(['./scripts/setup.sh', 'npm run demo'])
    expect((JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {scripts: Record<string, string>}).scripts.demo).toBe('node scripts/demo.js')
  })
})

describe('scripts/setup.sh', () => {
  it.skipIf(!isRoot)('as root without sudo on PATH: --check plans apt-get as root, then npm, and runs nothing', () => {
    expect(existsSync(path.join(bin, 'sudo'))).toBe(false)

    const r = run(['/bin/bash', setup, '--check'])

    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^setup: would install the Debian packages shellcheck sudo debootstrap .* \(apt-get, as root\)$/m)
    expect(r.stdout).toContain('setup: would run npm ci and npm run build (as root)')
    expect(r.recorded.filter((c) => !c.startsWith('dpkg '))).toEqual([])
  })

  it.skipIf(!isRoot)('as a user with sudo: asks sudo for the packages only, then runs npm itself', () => {
    stub('sudo', 'exit 0')

    const r = run(['/bin/bash', setup], true)

    expect(r.code, r.stderr).toBe(0)
    expect(r.recorded.filter((c) => !c.startsWith('dpkg '))).toEqual([`sudo -- /bin/bash ${setup} --packages`, 'npm ci --no-audit --no-fund', 'npm run build'])
  })

  it.skipIf(!isRoot)('as a user without sudo: says what to run as root, exit 2, runs nothing', () => {
    const r = run(['/bin/bash', setup], true)

    expect(r.code).toBe(2)
    expect(r.stderr).toContain('you are not root and sudo is not installed')
    expect(r.stderr).toContain(`As root (su - or a root login), run: ${setup} --packages`)
    expect(r.recorded.filter((c) => !c.startsWith('dpkg '))).toEqual([])
  })
})

describe('scripts/demo.js (npm run demo)', () => {
  it.skipIf(!isRoot)('as a user with sudo: runs itself again as root through sudo, with this node and the demo sizes', () => {
    stub('sudo', 'exit 7')

    const r = run(['/usr/bin/env', 'KP_DEMO_NODES=5', 'KP_DEMO_CONTROL_PLANES=3', process.execPath, demo], true)

    expect(r.code).toBe(7)
    expect(r.recorded).toEqual([`sudo -- env KP_DEMO_NODES=5 KP_DEMO_CONTROL_PLANES=3 ${process.execPath} ${demo}`])
  })

  it.skipIf(!isRoot)('as a user without sudo: says how to run it as root, exit 2', () => {
    const r = run([process.execPath, demo], true)

    expect(r.code).toBe(2)
    expect(r.stderr).toContain('you are not root and sudo is not installed')
    expect(r.stderr).toContain(`As root (su - or a root login), run: cd ${repoRoot} && npm run demo`)
    expect(r.recorded).toEqual([])
  })
})
