/**
 * Warnings reach the operator whatever the output: on stderr, and with --json also in the
 * envelope. The insecure-TLS warning is the one kp gives today: a kp.yaml with
 * proxmox.insecureSkipTlsVerify against the lab's Proxmox fake on loopback.
 */
import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type Lab, startLab, TOKEN} from '../proxmox/helpers.js'
import {parseEnvelope, runKp, tempDir} from '../helpers/cli.js'

const TLS_OFF = /TLS verification of https:\/\/127\.0\.0\.1:\d+ is OFF \(proxmox\.insecureSkipTlsVerify\)/

let lab: Lab
let config: string

beforeAll(async () => {
  lab = await startLab()
  const dir = tempDir()
  writeFileSync(path.join(dir, 'token.secret'), `${TOKEN.secret}\n`, {mode: 0o600})
  config = path.join(dir, 'kp.yaml')
  writeFileSync(
    config,
    `cluster:
  name: warnlab
  kubernetesVersion: 1.31.9
  controlPlaneEndpoint: 10.77.0.11
  cni: {manifest: https://example.invalid/cni.yaml}
proxmox:
  endpoint: ${lab.server.url}
  node: pve1
  tokenId: ${TOKEN.id}
  tokenSecret: {file: token.secret}
  insecureSkipTlsVerify: true
  templateVmid: 9000
network: {gateway: 10.77.0.1, prefix: 24, dns: [10.77.0.1]}
ssh: {user: debian}
nodes:
  - {name: cp1, role: control-plane, vmid: 201, ip: 10.77.0.11}
`,
  )
})

afterAll(() => lab?.close())

describe('warnings', () => {
  it('--json: the insecure-TLS warning is in the envelope and on stderr, once', async () => {
    const {code, stderr, stdout} = await runKp(['vm', 'list', '--json', '-c', config])

    expect(code, stderr).toBe(0)
    const envelope = parseEnvelope(stdout) as ReturnType<typeof parseEnvelope> & {warnings?: string[]}
    expect(envelope.ok).toBe(true)
    expect(envelope.warnings).toHaveLength(1)
    expect(envelope.warnings![0]).toMatch(TLS_OFF)
    expect(stderr.trim().split('\n')).toEqual([`Warning: ${envelope.warnings![0]}`])
  })

  it('without --json: on stderr, the table on stdout', async () => {
    const {code, stderr, stdout} = await runKp(['vm', 'list', '-c', config])

    expect(code, stderr).toBe(0)
    expect(stderr).toMatch(new RegExp(`^Warning: ${TLS_OFF.source}`, 'm'))
    expect(stdout).toContain('VMID')
    expect(stdout).not.toMatch(TLS_OFF)
  })

  it('--json on a failing command: in the error envelope too', async () => {
    // A workflow run that connects, then fails: cp1's VM does not exist, so it cannot be snapshotted.
    const {code, stderr, stdout} = await runKp(['vm', 'snapshot', 'before', 'cp1', '--yes', '--json', '-c', config, '--state-dir', tempDir()])

    const envelope = parseEnvelope(stdout) as ReturnType<typeof parseEnvelope> & {warnings?: string[]}
    expect(code).not.toBe(0)
    expect(envelope.ok).toBe(false)
    expect(envelope.warnings?.[0]).toMatch(TLS_OFF)
    expect(stderr).toMatch(new RegExp(`^Warning: ${TLS_OFF.source}`, 'm'))
  })
})
