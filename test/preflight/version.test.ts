import {describe, expect, it} from 'vitest'

import {checkKubernetesVersion, SUPPORTED_MINORS} from '../../src/lib/preflight/index.js'

describe('checkKubernetesVersion', () => {
  it.each(['1.30.0', '1.30.14', '1.31.9', '1.32.5', '1.33.0', '1.33.12'])('%s is supported', (version) => {
    expect(checkKubernetesVersion(version)).toBeUndefined()
  })

  it('the window is four consecutive minors, oldest first', () => {
    expect(SUPPORTED_MINORS).toEqual(['1.30', '1.31', '1.32', '1.33'])
  })

  it('below the window: names the value, the rule and the choices', () => {
    expect(checkKubernetesVersion('1.27.3')).toBe(
      'cluster.kubernetesVersion 1.27.3 is not supported: kp bootstraps 1.30 to 1.33; choose one of 1.30.x, 1.31.x, 1.32.x, 1.33.x (the newest patch release of a minor is best)',
    )
    expect(checkKubernetesVersion('1.29.15')).toMatch(/^cluster.kubernetesVersion 1.29.15 is not supported/)
  })

  it('above the window: says kp does not know it yet', () => {
    expect(checkKubernetesVersion('1.34.0')).toMatch(/^cluster.kubernetesVersion 1.34.0 is not supported: kp bootstraps 1.30 to 1.33 \(1.34 is newer than this kp knows\); choose one of/)
    expect(checkKubernetesVersion('2.0.0')).toContain('2.0 is newer than this kp knows')
  })

  it.each(['1.31', '1.31.x', 'latest', ''])('"%s" is not a version', (version) => {
    expect(checkKubernetesVersion(version)).toMatch(/is not a version X.Y.Z like 1.31.4: choose one of/)
  })
})
