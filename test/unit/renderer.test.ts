import {describe, expect, it} from 'vitest'

import {chooseRenderer} from '../../src/lib/engine/renderer.js'

describe('chooseRenderer', () => {
  it.each([
    [{json: false, tty: true, verbose: false}, 'default'],
    [{json: false, tty: false, verbose: false}, 'verbose'],
    [{json: false, tty: true, verbose: true}, 'verbose'],
    [{json: true, tty: true, verbose: false}, 'silent'],
    [{json: true, tty: false, verbose: true}, 'silent'],
  ] as const)('%j → %s', (inputs, expected) => {
    expect(chooseRenderer(inputs)).toBe(expected)
  })
})
