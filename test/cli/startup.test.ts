import {execFileSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {kpBin, kpEnv, repoRoot, tempDir} from '../helpers/cli.js'
import {writeTestConfig} from '../helpers/config.js'

const PROBE = path.join(repoRoot, 'test', 'fixtures', 'probe', 'record-modules.mjs')
const HEAVY = ['ssh2', 'proxmox-api', '@kubernetes/client-node', 'execa', 'listr2', '@inquirer']

/** The packages under node_modules that a kp invocation loaded. */
function packagesLoaded(args: string[], env: NodeJS.ProcessEnv = {}): Set<string> {
  const log = path.join(tempDir(), 'modules.log')
  try {
    execFileSync(process.execPath, ['--import', PROBE, kpBin, ...args], {env: kpEnv({...env, KP_MODULE_LOG: log}), stdio: 'pipe'})
  } catch {
    // Exit codes do not matter here, only what was loaded.
  }

  const names = new Set<string>()
  for (const url of readFileSync(log, 'utf8').split('\n')) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
    if (m) names.add(m[1]!)
  }

  return names
}

describe('start-up stays light', () => {
  it.each([[['--version']], [['--help']], [['runs', 'list', '--help']], [['config', 'validate', '--help']]])('kp %j loads none of the heavy modules', (args) => {
    const loaded = packagesLoaded(args)
    expect(loaded.has('@oclif/core')).toBe(true)
    for (const heavy of HEAVY) expect([...loaded].filter((p) => p.startsWith(heavy))).toEqual([])
  })

  it('-h is help, as users expect (kp health -h printed "Nonexistent flag: -h")', () => {
    const out = execFileSync(process.execPath, [kpBin, 'health', '-h'], {encoding: 'utf8', env: kpEnv()})
    expect(out).toContain('USAGE')
    expect(out).toContain('--output')
  })

  it('the probe does see a lazily loaded module (control)', () => {
    const dir = tempDir()
    const config = writeTestConfig(dir)
    const loaded = packagesLoaded(['run', 'fake', '-c', config, '--param', `dir=${dir}`], {
      KP_EXTRA_WORKFLOWS: path.join(repoRoot, 'test', 'fixtures', 'workflows', 'fake.js'),
      KP_STATE_DIR: path.join(dir, 'state'),
    })
    expect(loaded.has('listr2')).toBe(true)
  })
})
