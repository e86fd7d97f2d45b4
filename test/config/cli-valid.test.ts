import {copyFileSync, readFileSync, writeFileSync, chmodSync} from 'node:fs'
import path from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'
import {parse, parseDocument} from 'yaml'

import type {ValidateResult} from '../../src/lib/config/summary.js'
import {parseEnvelope, repoRoot, runKp, tempDir} from '../helpers/cli.js'
import {jsonSchemaErrors} from './json-schema-check.js'

const validDir = path.join(repoRoot, 'test', 'fixtures', 'config', 'valid')
const validFile = path.join(validDir, 'kp.yaml')

/** The valid fixture in a fresh folder, its token secret read from `source`. */
function stage(source: Record<string, string>): {dir: string; file: string} {
  const dir = tempDir()
  const doc = parseDocument(readFileSync(validFile, 'utf8'))
  doc.setIn(['proxmox', 'tokenSecret'], doc.createNode(source))
  const file = path.join(dir, 'kp.yaml')
  writeFileSync(file, doc.toString())
  copyFileSync(path.join(validDir, 'cni.yaml'), path.join(dir, 'cni.yaml'))
  return {dir, file}
}

describe('kp config validate on a valid file', () => {
  const secret = 'f3a1c2d4-5b6e-7f80-9a1b-2c3d4e5f6a7b'

  const cases: Array<[string, () => {env?: Record<string, string>; file: string}]> = [
    ['{env: …}', () => ({env: {PVE_TOKEN_SECRET: secret}, file: stage({env: 'PVE_TOKEN_SECRET'}).file})],
    [
      '{file: …} with mode 0600',
      () => {
        const {dir, file} = stage({file: './secrets/../pve-token'})
        writeFileSync(path.join(dir, 'pve-token'), `${secret}\n`)
        chmodSync(path.join(dir, 'pve-token'), 0o600)
        return {file}
      },
    ],
    [
      '{command: …}',
      () => {
        const {dir, file} = stage({command: "cat 'token store.txt'"})
        writeFileSync(path.join(dir, 'token store.txt'), `${secret}\nlogin: kp@pve\n`)
        return {file}
      },
    ],
  ]

  it.each(cases)('%s: exit 0, a short summary, the secret never shown', async (_name, arrange) => {
    const {env, file} = arrange()
    const text = await runKp(['config', 'validate', '-c', file], {env})
    expect(text.stderr).toBe('')
    expect(text.code).toBe(0)
    expect(text.stdout.split('\n')[0]).toBe(`${file} is valid`)
    expect(text.stdout).toContain('homelab, Kubernetes 1.31.4, API at k8s.home.lan:6443')
    expect(text.stdout).toContain('3 control planes (cp1, cp2, cp3), 2 workers (w1, w2)')
    expect(text.stdout).toContain('proxmox  yes: https://pve.home.lan:8006, node pve, token secret readable')

    const json = await runKp(['config', 'validate', '-c', file, '--json'], {env})
    expect(json.code).toBe(0)
    const envelope = parseEnvelope<ValidateResult>(json.stdout)
    expect(envelope.ok).toBe(true)
    expect(envelope.result).toMatchObject({cluster: {name: 'homelab'}, path: file, proxmox: true, secretsChecked: true, valid: true})
    expect(envelope.result?.nodes).toHaveLength(5)
    expect(envelope.result?.nodes[3]).toEqual({ip: '10.20.0.21', name: 'w1', role: 'worker', vmid: 211})

    for (const output of [text.stdout, text.stderr, json.stdout, json.stderr]) expect(output).not.toContain(secret)
  })

  it('validates the fixture in place', async () => {
    const {code, stdout} = await runKp(['config', 'validate', '-c', validFile], {env: {PVE_TOKEN_SECRET: secret}})
    expect(code).toBe(0)
    expect(stdout).toContain('is valid')
  })

  it('--skip-secrets validates without the secret', async () => {
    const {code, stdout} = await runKp(['config', 'validate', '-c', validFile, '--skip-secrets', '--json'])
    expect(code).toBe(0)
    expect(parseEnvelope<ValidateResult>(stdout).result?.secretsChecked).toBe(false)
    const without = await runKp(['config', 'validate', '-c', validFile])
    expect(without.code).toBe(2)
    expect(without.stderr).toContain('proxmox.tokenSecret.env: environment variable PVE_TOKEN_SECRET is not set')
  })
})

interface Schema {
  $id?: string
  $schema?: string
  description?: string
  enum?: unknown[]
  items?: Schema
  properties?: Record<string, Schema>
  required?: string[]
  title?: string
}

describe('kp config schema', () => {
  // The printed schema, navigated loosely: the test checks its shape.
  let schema: Schema

  beforeAll(async () => {
    const {code, stdout} = await runKp(['config', 'schema'])
    expect(code).toBe(0)
    schema = JSON.parse(stdout) as Schema
  })

  it('prints a draft 2020-12 JSON Schema with an id, a title and descriptions', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema')
    expect(schema.$id).toMatch(/^urn:kp:/)
    expect(schema.title).toBe('kp.yaml')
    expect(schema.required).toEqual(['cluster', 'network', 'nodes', 'ssh'])
    expect(Object.keys(schema.properties as object).sort()).toEqual(['backup', 'cluster', 'health', 'maintenance', 'network', 'nodes', 'packages', 'proxmox', 'ssh'])
    for (const section of Object.values(schema.properties!)) expect(section.description).toBeTruthy()
    expect(schema.properties!.cluster!.properties!.podSubnet).toMatchObject({default: '10.244.0.0/16', description: expect.stringContaining('Pod network') as unknown})
    expect(schema.properties!.nodes!.items!.properties!.role!.enum).toEqual(['control-plane', 'worker'])
  })

  it('accepts the valid file and rejects unknown keys, missing keys and wrong types', () => {
    const data = parse(readFileSync(validFile, 'utf8')) as {[section: string]: unknown; nodes: Array<Record<string, unknown>>; proxmox: Record<string, unknown>}
    expect(jsonSchemaErrors(schema as Record<string, unknown>, data)).toEqual([])

    expect(jsonSchemaErrors(schema as Record<string, unknown>, {...data, extra: 1})).toEqual(['$.extra: additional property'])
    const typo = structuredClone(data)
    typo.nodes[0]!.memory = 1
    expect(jsonSchemaErrors(schema as Record<string, unknown>, typo)).toEqual(['$.nodes[0].memory: additional property'])
    const {nodes: _nodes, ...missing} = data
    expect(jsonSchemaErrors(schema as Record<string, unknown>, missing)).toEqual(['$.nodes: required'])
    const wrong = structuredClone(data)
    wrong.nodes[1]!.vmid = '202'
    wrong.proxmox.tokenSecret = 'plaintext'
    expect(jsonSchemaErrors(schema as Record<string, unknown>, wrong)).toEqual(['$.proxmox.tokenSecret: matches none of anyOf', '$.nodes[1].vmid: not integer'])
  })

  it('is the result under --json', async () => {
    const {code, stdout} = await runKp(['config', 'schema', '--json'])
    expect(code).toBe(0)
    expect(parseEnvelope(stdout)).toEqual({command: 'config schema', ok: true, result: schema})
  })
})
