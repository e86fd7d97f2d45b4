/**
 * kp upgrade cluster from the built CLI, where no cluster is needed: the flags it refuses before
 * anything connects, with exit 2 (a dry run journals nothing).
 */
import {existsSync, readdirSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {runKp, tempDir} from '../helpers/cli.js'
import {writeTestConfig} from '../helpers/config.js'

function setup() {
  const dir = tempDir('kp-upcli-')
  const config = writeTestConfig(dir)
  const stateDir = path.join(dir, 'state')
  return {journals: () => (existsSync(path.join(stateDir, 'runs')) ? readdirSync(path.join(stateDir, 'runs')) : []), run: (args: string[]) => runKp([...args, '-c', config], {env: {KP_STATE_DIR: stateDir}})}
}

describe('kp upgrade cluster', () => {
  it('needs --to', async () => {
    const w = setup()
    const r = await w.run(['upgrade', 'cluster', '--yes'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/Missing required flag to/)
  })

  it('refuses a --to that is not a version, naming it, before anything connects', async () => {
    const w = setup()
    for (const args of [['--dry-run'], ['--yes']]) {
      const r = await w.run(['upgrade', 'cluster', '--to', '1.31', ...args])
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toContain('--to must be a Kubernetes version like 1.31.2, not "1.31"')
      expect(r.stderr).not.toMatch(/\n\s+at /)
      if (args[0] === '--dry-run') expect(w.journals()).toEqual([])
    }
  })

  it('is in kp --help under its topic', async () => {
    const r = await runKp(['upgrade', '--help'])
    expect(r.stdout).toContain('Upgrade Kubernetes, one minor at a time')
    expect(r.stdout).toContain('upgrade cluster')
  })
})
