import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'
import {parse} from 'yaml'

import type {InitResult} from '../../src/lib/config/init.js'
import {parseEnvelope, runKp, tempDir} from '../helpers/cli.js'
import {jsonSchemaErrors} from './json-schema-check.js'

const REQUIRED = ['--name', 'homelab', '--kubernetes-version', '1.31.4', '--gateway', '10.0.10.1', '--first-ip', '10.0.10.11', '--first-vmid', '201', '--ssh-user', 'debian']
const PROXMOX = ['--proxmox-endpoint', 'https://pve.example.lan:8006', '--pve-node', 'pve', '--token-id', 'kp@pve!kp', '--template-vmid', '9000']

describe('kp config init without a terminal', () => {
  it('refuses, naming every missing flag, and writes nothing', async () => {
    const dir = tempDir()
    const output = path.join(dir, 'kp.yaml')
    const {code, stderr, stdout} = await runKp(['config', 'init', '--output', output, '--name', 'homelab'])
    expect(code).toBe(2)
    expect(stdout).toBe('')
    expect(stderr.split('\n')[0]).toBe('Error: missing --kubernetes-version, --first-vmid, --first-ip, --gateway, --ssh-user: without a terminal, kp config init takes every answer from flags')
    expect(stderr).not.toMatch(/^ {4}at /m)
    expect(existsSync(output)).toBe(false)
    expect(existsSync(path.join(dir, 'kp.schema.json'))).toBe(false)
  })

  it('asks for the Proxmox flags once one of them is given', async () => {
    const {code, stderr} = await runKp(['config', 'init', '--output', path.join(tempDir(), 'kp.yaml'), ...REQUIRED, '--token-id', 'kp@pve!kp'])
    expect(code).toBe(2)
    expect(stderr).toContain('missing --proxmox-endpoint, --pve-node, --template-vmid:')
  })

  it('needs --endpoint with several control planes', async () => {
    const {code, stdout} = await runKp(['config', 'init', '--output', path.join(tempDir(), 'kp.yaml'), ...REQUIRED, '--control-planes', '3', '--json'])
    expect(code).toBe(2)
    const envelope = parseEnvelope(stdout)
    expect(envelope.ok).toBe(false)
    expect(envelope.error).toMatchObject({exitCode: 2, kind: 'usage'})
    expect(envelope.error?.message).toMatch(/^missing --endpoint:/)
  })

  it('refuses answers that do not make a valid file, naming the flag', async () => {
    const args = ['config', 'init', '--output', path.join(tempDir(), 'kp.yaml'), ...REQUIRED.map((a) => (a === '10.0.10.11' ? '10.0.99.11' : a))]
    const {code, stderr} = await runKp(args)
    expect(code).toBe(2)
    expect(stderr).toContain('--first-ip: nodes[0].ip: 10.0.99.11 is outside the node network 10.0.10.0/24')
  })

  it('writes a commented kp.yaml with a schema modeline that kp config validate accepts', async () => {
    const dir = tempDir()
    const output = path.join(dir, 'kp.yaml')
    const init = await runKp(['config', 'init', '--output', output, ...REQUIRED, ...PROXMOX, '--workers', '3', '--vlan', '20'])
    expect(init.stderr).toBe('')
    expect(init.code).toBe(0)
    expect(init.stdout).toContain(`Wrote ${output} (1 control plane, 3 workers)`)

    const text = readFileSync(output, 'utf8')
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=./kp.schema.json')
    expect(text).toContain('# Never the secret itself')
    expect(text).toContain('tokenSecret: {env: PVE_TOKEN_SECRET}')
    const data = parse(text) as {cluster: {controlPlaneEndpoint: string}; network: unknown; nodes: Array<{ip: string; name: string; vmid: number}>}
    expect(data.nodes.map((n) => n.name)).toEqual(['cp1', 'w1', 'w2', 'w3'])
    expect(data.nodes[3]).toMatchObject({ip: '10.0.10.14', vmid: 204})
    expect(data.cluster.controlPlaneEndpoint).toBe('10.0.10.11:6443')
    expect(data.network).toMatchObject({dns: ['10.0.10.1'], vlan: 20})

    const schema = JSON.parse(readFileSync(path.join(dir, 'kp.schema.json'), 'utf8')) as Record<string, unknown>
    const printed = await runKp(['config', 'schema'])
    expect(schema).toEqual(JSON.parse(printed.stdout))
    expect(jsonSchemaErrors(schema, data)).toEqual([])

    const validate = await runKp(['config', 'validate', '-c', output], {env: {PVE_TOKEN_SECRET: 'init-test-secret'}})
    expect(validate.stderr).toBe('')
    expect(validate.code).toBe(0)
    expect(validate.stdout).toContain('1 control plane (cp1), 3 workers (w1, w2, w3)')
  })

  it('writes a file without a proxmox section when no Proxmox flag is given', async () => {
    const output = path.join(tempDir(), 'cluster.yaml')
    const init = await runKp(['config', 'init', '-c', output, ...REQUIRED, '--json'])
    expect(init.code).toBe(0)
    const result = parseEnvelope<InitResult>(init.stdout).result
    expect(result).toMatchObject({controlPlanes: 1, name: 'homelab', path: output, proxmox: false, schemaPath: path.join(path.dirname(output), 'kp.schema.json'), workers: 2, written: true})
    expect((parse(readFileSync(output, 'utf8')) as Record<string, unknown>).proxmox).toBeUndefined()
    const validate = await runKp(['config', 'validate', '-c', output])
    expect(validate.code).toBe(0)
    expect(validate.stdout).toContain('proxmox  no')
  })

  it('refuses to replace an existing file without --force', async () => {
    const output = path.join(tempDir(), 'kp.yaml')
    expect((await runKp(['config', 'init', '--output', output, ...REQUIRED])).code).toBe(0)
    const before = readFileSync(output, 'utf8')

    const again = await runKp(['config', 'init', '--output', output, ...REQUIRED, '--workers', '5'])
    expect(again.code).toBe(4)
    expect(again.stderr).toContain(`Error: ${output} already exists`)
    expect(again.stderr).toContain('--force')
    expect(readFileSync(output, 'utf8')).toBe(before)

    const forced = await runKp(['config', 'init', '--output', output, ...REQUIRED, '--workers', '5', '--force'])
    expect(forced.code).toBe(0)
    expect((parse(readFileSync(output, 'utf8')) as {nodes: unknown[]}).nodes).toHaveLength(6)
  })

  it('--dry-run prints the file and writes nothing', async () => {
    const dir = tempDir()
    const output = path.join(dir, 'kp.yaml')
    const {code, stdout} = await runKp(['config', 'init', '--output', output, ...REQUIRED, '--dry-run'])
    expect(code).toBe(0)
    expect(stdout.startsWith('# yaml-language-server: $schema=./kp.schema.json\n')).toBe(true)
    expect((parse(stdout) as {cluster: {name: string}}).cluster.name).toBe('homelab')
    expect(existsSync(output)).toBe(false)
    expect(existsSync(path.join(dir, 'kp.schema.json'))).toBe(false)
  })
})
