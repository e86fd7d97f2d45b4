/** Colour through chalk (defect 2.18): NO_COLOR and FORCE_COLOR, refusals, the dry-run plan. */
import {Chalk} from 'chalk'
import {describe, expect, it} from 'vitest'

import {formatError} from '../../src/lib/base-command.js'
import {stderrColour, stdoutColour} from '../../src/lib/colour.js'
import {formatPlan, type Plan} from '../../src/lib/engine/plan.js'
import {ExitCode} from '../../src/lib/errors.js'

const ansi = new Chalk({level: 1})

describe('colour', () => {
  it('NO_COLOR turns chalk off, unless FORCE_COLOR asks for colour (as Node does)', () => {
    expect(stdoutColour({NO_COLOR: '1'}).level).toBe(0)
    expect(stderrColour({NO_COLOR: '1'}).level).toBe(0)
    // chalk read FORCE_COLOR when it loaded; vitest sets it or not, so compare with chalk itself.
    expect(stdoutColour({FORCE_COLOR: '1', NO_COLOR: '1'})).toBe(stdoutColour({}))
    expect(stdoutColour({NO_COLOR: ''})).toBe(stdoutColour({}))
  })

  it('a refusal (a changed host key) is red as a whole; other errors have a red label; plain without colour', () => {
    const refusal = {exitCode: ExitCode.refused, hint: 'verify the key', kind: 'ssh', message: 'the SSH host key of w1 has changed\n@@@@\nIT IS POSSIBLE'}
    const text = formatError(refusal, undefined, ansi)
    expect(text).toContain('\u001B[31mError: the SSH host key of w1 has changed\u001B[39m\n\u001B[31m@@@@\u001B[39m\n\u001B[31mIT IS POSSIBLE\u001B[39m')
    expect(text).toContain('\u001B[1mHint:\u001B[22m verify the key')
    expect(formatError({exitCode: 1, kind: 'step-failed', message: 'boom'}, undefined, ansi)).toBe('\u001B[31mError:\u001B[39m boom\n')
    expect(formatError(refusal)).toBe('Error: the SSH host key of w1 has changed\n@@@@\nIT IS POSSIBLE\n  Hint: verify the key\n')
  })

  it('the dry-run plan paints what would change, and a destructive step', () => {
    const plan: Plan = {
      dryRun: true,
      steps: [
        {destructive: false, id: 'gather', title: 'Gather facts', units: [{changes: [], verdict: 'gathers-facts'}]},
        {destructive: true, id: 'drain', title: 'Drain the node', units: [{changes: ['evict pod web-1'], target: 'w1', verdict: 'would-run'}]},
      ],
      workflow: 'node-drain',
    }
    const text = formatPlan(plan, 'Drain', ansi)
    expect(text).toContain('2. Drain the node\u001B[31m  [destructive]\u001B[39m')
    expect(text).toContain('\u001B[33m     w1: would evict pod web-1\u001B[39m')
    expect(text).toContain('     read-only\n')
    expect(formatPlan(plan, 'Drain', new Chalk({level: 0}))).not.toContain('\u001B[')
  })
})
