/**
 * Update kp.yaml: cluster.kubernetesVersion becomes the target, so node-prepare and bootstrap install
 * what the cluster now runs. Only that scalar's characters change (found with the yaml package's
 * Document API, spliced into the text): comments, quoting and layout stay the operator's. The hash
 * of the file it writes is the unit's pre-state, recorded before the write: the engine lets a resume
 * of this run through with that file (src/lib/engine/launch.ts), and still refuses any other edit.
 */
import {createHash} from 'node:crypto'
import {readFileSync, statSync} from 'node:fs'

import {isScalar, parseDocument} from 'yaml'

import {writeFileAtomicSync} from '../../atomic-write.js'
import type {Step} from '../../engine/types.js'
import {ConfigError} from '../../errors.js'
import type {UpgradeFacts, UpgradeParams} from './facts.js'

const KEY = ['cluster', 'kubernetesVersion']

/** The text of kp.yaml with cluster.kubernetesVersion set to `version`, all else as it was. */
export function withKubernetesVersion(text: string, version: string, file = 'kp.yaml'): string {
  const doc = parseDocument(text, {keepSourceTokens: true})
  const node = doc.getIn(KEY, true)
  if (!isScalar(node) || !node.range) throw new ConfigError(`${file}: no cluster.kubernetesVersion to update`, {hint: `set it to ${version} by hand`})
  const [start, end] = node.range
  const old = text.slice(start, end)
  const quote = old.startsWith('"') || old.startsWith("'") ? old[0] : ''
  return `${text.slice(0, start)}${quote}${version}${quote}${text.slice(end)}`
}

export const configHash = (text: string): string => createHash('sha256').update(text).digest('hex')

const current = (file: string): unknown => parseDocument(readFileSync(file, 'utf8')).getIn(KEY)

export const updateConfig: Step<UpgradeFacts, UpgradeParams> = {
  id: 'update-config',
  title: 'Update the Kubernetes version in the config file',
  check: (ctx) => (String(current(ctx.config.path)) === ctx.facts.target ? `cluster.kubernetesVersion is ${ctx.facts.target} already` : false),
  plan: (ctx) => [`set cluster.kubernetesVersion in ${ctx.config.path} to ${ctx.facts.target} (comments and layout kept)`],
  async run(ctx) {
    const file = ctx.config.path
    const text = readFileSync(file, 'utf8')
    const next = withKubernetesVersion(text, ctx.facts.target, file)
    ctx.recordPreState({from: String(current(file)), writtenConfigHash: configHash(next)})
    await ctx.mutate(`set cluster.kubernetesVersion to ${ctx.facts.target} in ${file}`, () => writeFileAtomicSync(file, next, {mode: statSync(file).mode & 0o777}))
  },
}
