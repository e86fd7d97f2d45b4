import {describe, expect, it} from 'vitest'

import {parseRunbook, runbookDrift} from '../../src/lib/engine/runbook.js'
import type {AnyWorkflow} from '../../src/lib/engine/types.js'

const workflow = (...titles: string[]): AnyWorkflow => ({
  initialFacts: () => ({}),
  name: 'wf',
  steps: titles.map((title, i) => ({id: `s${i}`, run() {}, title})),
  title: 'WF',
})

describe('parseRunbook', () => {
  it('splits on ## headings and ignores headings inside code fences', () => {
    const rb = parseRunbook('# Title\nintro\n\n## One\nbody one\n```\n## not a heading\n```\n## Two\nbody two\n')
    expect(rb.intro).toBe('# Title\nintro\n')
    expect(rb.sections.map((s) => s.heading)).toEqual(['One', 'Two'])
    expect(rb.sections[0]!.body).toContain('## not a heading')
  })
})

describe('runbookDrift', () => {
  it('is empty when headings equal step titles in order', () => {
    expect(runbookDrift(workflow('One', 'Two'), parseRunbook('## One\n## Two\n'))).toEqual([])
  })

  it('names a step without a heading', () => {
    expect(runbookDrift(workflow('One', 'Two'), parseRunbook('## One\n'))).toEqual(['step "Two" has no "## Two" heading'])
  })

  it('names a heading without a step', () => {
    expect(runbookDrift(workflow('One'), parseRunbook('## One\n## Extra\n'))).toEqual(['heading "## Extra" matches no step'])
  })

  it('notices a reordering', () => {
    expect(runbookDrift(workflow('One', 'Two'), parseRunbook('## Two\n## One\n'))[0]).toMatch(/not in step order/)
  })
})
