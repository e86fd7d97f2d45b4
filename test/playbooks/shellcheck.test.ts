import {spawnSync} from 'node:child_process'
import {readFileSync, readdirSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {repoRoot} from './harness.js'

const shellcheck = spawnSync('shellcheck', ['--version'], {encoding: 'utf8'})
const available = shellcheck.status === 0
if (!available) console.warn('shellcheck is not installed: the playbook lint test is skipped')

function scripts(dir: string): string[] {
  return readdirSync(dir, {recursive: true, withFileTypes: true})
    .filter((e) => e.isFile() && e.name.endsWith('.sh'))
    .map((e) => path.join(e.parentPath, e.name))
    .sort()
}

describe('playbooks', () => {
  const all = scripts(path.join(repoRoot, 'playbooks'))

  it('include the node-prepare scripts', () => {
    expect(all.map((f) => path.relative(repoRoot, f))).toEqual(expect.arrayContaining(['playbooks/node-prepare/facts.sh', 'playbooks/node-prepare/verify.sh']))
  })

  it.skipIf(!available)('are shellcheck-clean (shellcheck -x)', () => {
    const result = spawnSync('shellcheck', ['-x', ...all], {cwd: repoRoot, encoding: 'utf8'})
    expect(result.stdout + result.stderr).toBe('')
    expect(result.status).toBe(0)
  })

  it('start with the bash shebang and strict mode', () => {
    for (const file of all) {
      const text = readFileSync(file, 'utf8')
      expect(text.startsWith('#!/usr/bin/env bash\n'), file).toBe(true)
      expect(text, file).toContain('\nset -euo pipefail\n')
    }
  })
})
