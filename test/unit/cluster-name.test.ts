import {describe, expect, it} from 'vitest'

import {ClusterSchema} from '../../src/lib/config/schema.js'
import {checkClusterName, CLUSTER_NAME} from '../../src/lib/paths.js'

const NAMES = ['homelab', 'a', 'a-1', '1a', 'x'.repeat(63), 'x'.repeat(64), '../../x', '..', '.', '', 'a/b', 'A', '-a', 'a-', 'a_b', 'a.b', 'a\nb', 'lab ']

describe('cluster names that become paths', () => {
  it("follow the schema's rule for cluster.name exactly", () => {
    for (const name of NAMES) {
      const schemaSays = ClusterSchema.shape.name.safeParse(name).success
      expect(CLUSTER_NAME.test(name), JSON.stringify(name)).toBe(schemaSays)
    }
  })

  it('are refused with exit 2 when they could climb out of the state dir', () => {
    expect(() => checkClusterName('../../x', '--cluster')).toThrow(expect.objectContaining({exitCode: 2, message: '"../../x" is not a cluster name (--cluster).'}))
    expect(checkClusterName('homelab')).toBe('homelab')
  })
})
