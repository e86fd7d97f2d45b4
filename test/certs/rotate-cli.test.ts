/**
 * kp certs rotate refuses before it logs in to any node: a worker or an unknown node named, and CA
 * rotation (out of scope, pointing to the runbook). The run against control planes is the lab's test.
 */
import {describe, expect, it} from 'vitest'

import {runKp, tempDir} from '../helpers/cli.js'
import {writeTestConfig} from '../helpers/config.js'

describe('kp certs rotate refuses before it touches a node', () => {
  it('a worker, an unknown node, and --ca', async () => {
    const dir = tempDir('kp-rotate-cli-')
    const config = writeTestConfig(dir)
    const kp = (args: string[]) => runKp(['certs', 'rotate', ...args, '--config', config, '--state-dir', `${dir}/state`])
    // One after the other: each run takes the cluster's lock.
    const worker = await kp(['w1'])
    const unknown = await kp(['cp9'])
    const ca = await kp(['--ca'])

    expect(worker.code, worker.stderr).toBe(2)
    expect(worker.stderr).toContain("w1 is a worker: only control planes carry kubeadm's certificates")
    expect(unknown.code, unknown.stderr).toBe(2)
    expect(unknown.stderr).toContain('kp.yaml has no node cp9')
    expect(ca.code, ca.stderr).toBe(4)
    expect(ca.stderr).toContain('kp does not rotate the certificate authorities')
    expect(ca.stderr).toContain('runbooks/certs-rotate.md#ca-rotation-out-of-scope')
  })
})
