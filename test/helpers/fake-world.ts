import path from 'node:path'

import {repoRoot, runKp, tempDir} from './cli.js'
import {writeTestConfig} from './config.js'

/** The fake workflows (test/fixtures/workflows/fake.js) that the engine's CLI tests run through KP_EXTRA_WORKFLOWS. */
export const FAKE_WORKFLOWS = path.join(repoRoot, 'test', 'fixtures', 'workflows', 'fake.js')

/** A folder with a kp.yaml and a state dir of its own, where kp knows the fake workflows. */
export interface World {
  config: string
  dir: string
  env: NodeJS.ProcessEnv
  stateDir: string
}

export function world(): World {
  const dir = tempDir()
  const stateDir = path.join(dir, 'state')
  return {config: writeTestConfig(dir), dir, env: {KP_EXTRA_WORKFLOWS: FAKE_WORKFLOWS, KP_STATE_DIR: stateDir}, stateDir}
}

/** The built kp in that world, with its config. */
export function kp(w: World, args: string[]) {
  return runKp([...args, '-c', w.config], {env: w.env})
}
