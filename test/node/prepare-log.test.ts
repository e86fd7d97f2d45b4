/** What node-prepare's playbook steps write to the run log: each line once, under its unit, the node named once. */
import {readFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import type {LoadedConfig} from '../../src/lib/config/load.js'
import {openRun} from '../../src/lib/engine/context.js'
import {RunLog} from '../../src/lib/engine/run-log.js'
import {setKernelParameters} from '../../src/lib/workflows/node-prepare/steps.js'
import type {PrepareFacts, PrepareParams} from '../../src/lib/workflows/node-prepare/facts.js'
import type {SshSession} from '../../src/lib/ssh/types.js'
import {tempDir} from '../helpers/cli.js'

const node = {cores: 2, diskGiB: 20, ip: '10.0.0.11', memoryMiB: 2048, name: 'cp1', role: 'control-plane', vmid: 201} as PrepareFacts['nodes'][number]

/** A node whose sysctl playbook reports one change, as the real one does. */
const session = {
  exec: async () => ({code: 0, stderr: '', stdout: 'write /etc/sysctl.d/99-kubernetes.conf\nKP_CHANGED=1\n'}),
  target: {host: node.ip, name: 'cp1', port: 22, user: 'kp'},
} as unknown as SshSession

describe('node-prepare in the run log', () => {
  it('a playbook line is written once, under its unit, without the node repeated', async () => {
    const dir = tempDir()
    const log = new RunLog(path.join(dir, 'run.log'))
    const config = {config: {cluster: {kubernetesVersion: '1.31.4', name: 'test'}}} as unknown as LoadedConfig
    const scope = openRun<PrepareFacts, PrepareParams>({config, dryRun: false, facts: {hosts: {}, nodes: [node]}, log, params: {}, signal: new AbortController().signal, stateDir: dir})
    const screen: string[] = []
    const {ctx} = scope.unit('cp1', {output: (line) => screen.push(line), scope: 'sysctl@cp1'})

    await setKernelParameters.run({...ctx, ssh: async () => session})
    await scope.close()

    const lines = readFileSync(log.file!, 'utf8').trim().split('\n').map((l) => l.replace(/^\S+ /, ''))
    expect(lines).toEqual(['[sysctl@cp1] set the kernel parameters', '[sysctl@cp1] write /etc/sysctl.d/99-kubernetes.conf'])
    // The line renderer puts "cp1: " before each output line: the step must not add its own.
    expect(screen).toEqual(['set the kernel parameters', 'write /etc/sysctl.d/99-kubernetes.conf'])
  })
})
