/**
 * The lint rule that keeps imports pointing down (DESIGN.md §4), run through ESLint's Node API
 * against the repo's own eslint.config.js: each import that once pointed up is refused if it came
 * back, and the libraries stay in their adapters.
 */
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {ESLint} from 'eslint'
import {beforeAll, describe, expect, it} from 'vitest'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const RULES = new Set(['no-restricted-imports', 'no-restricted-syntax'])

describe('imports point down', () => {
  let eslint: ESLint

  /** The layering messages ESLint gives `code` as if it were the file at `file` (relative to the repo). */
  const refusals = async (file: string, code: string): Promise<string[]> => {
    const [result] = await eslint.lintText(code, {filePath: path.join(root, file)})
    const fatal = result!.messages.filter((m) => m.fatal)
    if (fatal.length > 0) throw new Error(`ESLint could not parse the sample: ${fatal.map((m) => m.message).join('; ')}`)
    return result!.messages.filter((m) => m.ruleId && RULES.has(m.ruleId)).map((m) => m.message)
  }

  beforeAll(() => {
    // The repo's config as is; only the two rules under test run (the type-checked ones are slow and beside the point).
    eslint = new ESLint({cwd: root, ruleFilter: ({ruleId}) => RULES.has(ruleId)})
  })

  it('refuses vm/inventory.ts importing a workflow\'s module (vm-seed/desired), statically or lazily', async () => {
    expect(await refusals('src/lib/vm/inventory.ts', "import {isOwnedBy} from '../workflows/vm-seed/desired.js'\nexport const f = isOwnedBy\n"))
      .toEqual([expect.stringContaining('Workflows sit above this module')])
    expect(await refusals('src/lib/vm/inventory.ts', "export const m = () => import('../workflows/vm-seed/desired.js')\n"))
      .toEqual([expect.stringContaining('Workflows sit above this module')])
    expect(await refusals('src/lib/vm/inventory.ts', "import {isOwnedBy} from './desired.js'\nexport const f = isOwnedBy\n")).toEqual([])
  }, 180_000)

  it('refuses an adapter that prompts: ssh/from-config.ts importing the engine\'s confirm or @inquirer/prompts', async () => {
    expect(await refusals('src/lib/ssh/from-config.ts', "import {confirm} from '../engine/confirm.js'\nexport const f = confirm\n"))
      .toEqual([expect.stringContaining('Only commands and workflows use the engine')])
    expect(await refusals('src/lib/ssh/from-config.ts', "import {password} from '@inquirer/prompts'\nexport const f = password\n"))
      .toEqual([expect.stringContaining('take a callback instead')])
    expect(await refusals('src/lib/ssh/from-config.ts', "export const f = async () => (await import('@inquirer/prompts')).password\n"))
      .toEqual([expect.stringContaining('take a callback instead')])
    expect(await refusals('src/lib/ssh/from-config.ts', "import type {KpConfig} from '../config/schema.js'\nexport type C = KpConfig\n")).toEqual([])
  }, 180_000)

  it('refuses engine/launch.ts importing the workflow registry, lazily (as it did) or statically', async () => {
    expect(await refusals('src/lib/engine/launch.ts', "export const load = async () => (await import('../workflows/index.js')).loadWorkflow\n"))
      .toEqual([expect.stringContaining('let the command hand the workflow over')])
    expect(await refusals('src/lib/engine/launch.ts', "export {loadWorkflow} from '../workflows/index.js'\n"))
      .toEqual([expect.stringContaining('let the command hand the workflow over')])
    expect(await refusals('src/lib/engine/launch.ts', "export const load = () => import('../config/load.js')\n")).toEqual([])
  }, 180_000)

  it('keeps undici inside the Proxmox adapter, like ssh2, proxmox-api, client-node and execa', async () => {
    const undici = "import {request} from 'undici'\nexport const r = request\n"
    expect(await refusals('src/lib/health/run.ts', undici)).toEqual([expect.stringContaining('Only src/lib/proxmox/ may import undici (its adapter).')])
    expect(await refusals('src/commands/health.ts', undici)).toEqual([expect.stringContaining('Only src/lib/proxmox/ may import undici (its adapter).')])
    expect(await refusals('src/lib/ssh/exec.ts', "export const u = () => import('undici')\n")).toEqual([expect.stringContaining('Only src/lib/proxmox/ may import undici (its adapter).')])
    expect(await refusals('src/lib/proxmox/transport.ts', undici)).toEqual([])
    expect(await refusals('src/lib/workflows/node-drain/facts.ts', "import {KubeConfig} from '@kubernetes/client-node'\nexport const k = KubeConfig\n"))
      .toEqual([expect.stringContaining('Only src/lib/kube/ may import @kubernetes/client-node (its adapter).')])
  }, 180_000)

  it('refuses src/lib importing a command, and a domain module importing the engine', async () => {
    expect(await refusals('src/lib/workflows/node-drain/facts.ts', "export const c = () => import('../../../commands/ssh.js')\n"))
      .toEqual([expect.stringContaining('Nothing under src/lib imports a command')])
    expect(await refusals('src/lib/health/run.ts', "import type {RunContext} from '../engine/types.js'\nexport type R = RunContext\n"))
      .toEqual([expect.stringContaining('Only commands and workflows use the engine')])
  }, 180_000)
})
