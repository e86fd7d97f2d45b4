/**
 * upgrade-cluster's kp.yaml edit: only cluster.kubernetesVersion's characters change (comments,
 * quoting, layout kept), and the engine lets a resume of the run that wrote it through — while any
 * other edit of kp.yaml is still refused. The resume half runs the built CLI with the real step in a
 * small workflow (KP_EXTRA_WORKFLOWS) that fails once after the edit.
 */
import {appendFileSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {withKubernetesVersion} from '../../src/lib/workflows/upgrade-cluster/config.js'
import {repoRoot, runKp, tempDir} from '../helpers/cli.js'
import {writeTestConfig} from '../helpers/config.js'

const COMMENTED = `# yaml-language-server: $schema=./kp.schema.json
cluster:
  name: home   # the lab
  # bumped by kp upgrade cluster
  kubernetesVersion: "1.30.14"   # keep quoted
  controlPlaneEndpoint: 10.0.0.10
nodes: [] # later
`

describe('withKubernetesVersion', () => {
  it('changes the version only: comments, quotes and layout stay', () => {
    expect(withKubernetesVersion(COMMENTED, '1.31.2')).toBe(COMMENTED.replace('"1.30.14"', '"1.31.2"'))
  })

  it('keeps a plain scalar plain and a single-quoted one single-quoted', () => {
    expect(withKubernetesVersion('cluster:\n  kubernetesVersion: 1.30.1\n', '1.31.0')).toBe('cluster:\n  kubernetesVersion: 1.31.0\n')
    expect(withKubernetesVersion("cluster: {kubernetesVersion: '1.30.1', name: x}\n", '1.31.0')).toBe("cluster: {kubernetesVersion: '1.31.0', name: x}\n")
  })

  it('refuses a file without the key, naming it', () => {
    expect(() => withKubernetesVersion('cluster:\n  name: x\n', '1.31.0', '/tmp/kp.yaml')).toThrow(/\/tmp\/kp.yaml: no cluster.kubernetesVersion/)
  })
})

/** A workflow around the real step: gather the target, update kp.yaml, then fail once. */
function fixture(dir: string): string {
  const file = path.join(dir, 'upcfg.mjs')
  const step = path.join(repoRoot, 'dist', 'lib', 'workflows', 'upgrade-cluster', 'config.js')
  writeFileSync(
    file,
    `import {existsSync, writeFileSync} from 'node:fs'
import {updateConfig} from ${JSON.stringify(step)}
const marker = ${JSON.stringify(path.join(dir, 'failed-once'))}
export const workflows = [{
  name: 'upcfg', title: 'Update the version', runbookDir: ${JSON.stringify(dir)}, initialFacts: () => ({}),
  steps: [
    {id: 'gather-facts', title: 'Gather facts', gathersFacts: true, run(ctx) { ctx.facts.target = ctx.params.to }},
    updateConfig,
    {id: 'after', title: 'Fail once', run() { if (!existsSync(marker)) { writeFileSync(marker, ''); throw new Error('failed on purpose') } }},
  ],
}]
`,
  )
  writeFileSync(path.join(dir, 'upcfg.md'), '# Update the version\n\n## Gather facts\n\n## Update the Kubernetes version in the config file\n\n## Fail once\n')
  return file
}

function setup(): {config: string; env: NodeJS.ProcessEnv; run: (args: string[]) => ReturnType<typeof runKp>} {
  const dir = tempDir('kp-upcfg-')
  const config = writeTestConfig(dir)
  writeFileSync(config, `# the operator's own words\n${readFileSync(config, 'utf8').replace('kubernetesVersion: 1.31.9', 'kubernetesVersion: 1.31.9 # pinned')}`)
  const env = {KP_EXTRA_WORKFLOWS: fixture(dir), KP_STATE_DIR: path.join(dir, 'state')}
  return {config, env, run: (args) => runKp([...args, '-c', config], {env})}
}

describe('a resume after the kp.yaml edit', () => {
  it('is let through with the file the run wrote, and finishes', async () => {
    const w = setup()
    const first = await w.run(['run', 'upcfg', '--param', 'to=1.32.0', '--yes'])
    expect(first.code, first.stderr).toBe(1)
    const text = readFileSync(w.config, 'utf8')
    expect(text).toContain('kubernetesVersion: 1.32.0 # pinned')
    expect(text.startsWith("# the operator's own words\n")).toBe(true)
    const resumed = await w.run(['resume', '--yes'])
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(readFileSync(w.config, 'utf8')).toBe(text)
  })

  it('still refuses any other edit of kp.yaml', async () => {
    const w = setup()
    expect((await w.run(['run', 'upcfg', '--param', 'to=1.32.0', '--yes'])).code).toBe(1)
    appendFileSync(w.config, '# an edit of my own\n')
    const resumed = await w.run(['resume', '--yes'])
    expect(resumed.code).toBe(4)
    expect(resumed.stderr).toMatch(/changed since run/)
  })
})
