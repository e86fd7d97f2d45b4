import {readdirSync} from 'node:fs'
import path from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

import {readRunbook, runbookDrift, runbookFile} from '../../src/lib/engine/runbook.js'
import type {AnyWorkflow} from '../../src/lib/engine/types.js'
import {repoRoot} from '../helpers/cli.js'

let workflows: AnyWorkflow[] = []

beforeAll(async () => {
  // The engine's fake workflows are checked too, so this test has a subject before the real ones exist.
  process.env.KP_EXTRA_WORKFLOWS = path.join(repoRoot, 'test', 'fixtures', 'workflows', 'fake.js')
  const {loadAllWorkflows} = await import('../../src/lib/workflows/index.js')
  workflows = await loadAllWorkflows()
})

describe('runbooks match their workflows', () => {
  it('every workflow has a runbook whose ## headings are its step titles, in order', () => {
    expect(workflows.length).toBeGreaterThan(0)
    const drift = Object.fromEntries(workflows.map((wf) => [wf.name, runbookDrift(wf, readRunbook(wf))]))
    expect(drift).toEqual(Object.fromEntries(workflows.map((wf) => [wf.name, []])))
  })

  it('every runbook in runbooks/ belongs to a workflow', () => {
    const files = readdirSync(path.join(repoRoot, 'runbooks')).filter((f) => f.endsWith('.md') && f !== 'README.md')
    const owned = new Set(workflows.map((wf) => path.resolve(runbookFile(wf))))
    expect(files.filter((f) => !owned.has(path.join(repoRoot, 'runbooks', f)))).toEqual([])
  })

  it('step ids are unique kebab-case and titles are sentence case', () => {
    for (const wf of workflows) {
      const ids = wf.steps.map((s) => s.id)
      expect(new Set(ids).size, wf.name).toBe(ids.length)
      for (const step of wf.steps) {
        expect(step.id, wf.name).toMatch(/^[a-z0-9]+(?:-[a-z0-9]+)*$/)
        expect(step.title, wf.name).toMatch(/^[A-Z][^.]*[^.\s]$/)
      }
    }
  })
})
