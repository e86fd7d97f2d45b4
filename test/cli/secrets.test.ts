import {execFileSync} from 'node:child_process'
import path from 'node:path'
import {describe, it} from 'vitest'

import {repoRoot, runKp, tempDir} from '../helpers/cli.js'
import {writeTestConfig} from '../helpers/config.js'

describe('secrets never reach the state dir', () => {
  // The second and third hold characters JSON escapes: redacting the serialized journal missed them.
  it.for(['c0ffee00-feed-4bad-b0a7-5ecre7t0ken1', 'c0ffee"00-feed-4bad', 'c0ffee\\00-feed"4bad'])('a step that logs a resolved secret (%s), records it as pre-state and fails with it leaves no trace of it', async (secret, {expect}) => {
    const dir = tempDir()
    const config = writeTestConfig(dir, {tokenSecret: secret})
    const stateDir = path.join(dir, 'state')
    const env = {KP_EXTRA_WORKFLOWS: path.join(repoRoot, 'test', 'fixtures', 'workflows', 'fake.js'), KP_STATE_DIR: stateDir}
    const loader = path.join(repoRoot, 'dist', 'lib', 'config', 'load.js')

    const result = await runKp(['run', 'fake-secret', '-c', config, '--param', `loader=${loader}`, '--param', `config=${config}`], {env})
    const json = await runKp(['runs', 'show', '--json', '-c', config], {env})

    // The step really met the secret and failed with it in the message…
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('authentication failed for token [REDACTED]')
    // …and nothing kp wrote or printed holds it.
    expect(grep(secret, stateDir)).toEqual([])
    expect(grep(JSON.stringify(secret).slice(1, -1), stateDir)).toEqual([])
    expect(grep('[REDACTED]', stateDir).map((f) => path.basename(f)).sort()).toEqual(['journal.json', 'run.log'])
    expect(result.stdout + result.stderr + json.stdout).not.toContain(secret)
    expect(json.stdout).not.toContain(JSON.stringify(secret).slice(1, -1))
    expect(json.stdout).toContain('[REDACTED]')
  })
})

/** Files under dir containing text (grep -rlF), so the check reads the disk, not kp's own parser. */
function grep(text: string, dir: string): string[] {
  try {
    return execFileSync('grep', ['-rlF', '--', text, dir], {encoding: 'utf8'}).split('\n').filter(Boolean)
  } catch {
    return []
  }
}
