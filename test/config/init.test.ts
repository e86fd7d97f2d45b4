import {describe, expect, it} from 'vitest'
import {parse} from 'yaml'

import {buildConfig, checkAnswer, collectAnswers, renderConfig, type Asker} from '../../src/lib/config/init.js'
import {INIT_FIELDS} from '../../src/lib/config/init-fields.js'
import {parseConfig} from '../../src/lib/config/validate.js'
import {UsageError} from '../../src/lib/errors.js'

/** Answers prompts from a script and records what was asked. */
function fakeAsker(answers: Record<string, string>, proxmox = true): Asker & {asked: string[]} {
  const asked: string[] = []
  return {
    asked,
    async confirm() {
      return proxmox
    },
    async input(message, options) {
      asked.push(message)
      const answer = answers[message] ?? options.default ?? ''
      const valid = options.validate(answer)
      if (valid !== true) throw new Error(`fake asker gave an invalid answer to "${message}": ${valid}`)
      return answer
    },
  }
}

const field = (flag: string) => INIT_FIELDS.find((f) => f.flag === flag)!

describe('kp config init answers', () => {
  it('asks for what the flags leave open, skipping advanced questions, and builds a valid file', async () => {
    const ask = fakeAsker({
      'API token id (USER@REALM!TOKENID)': 'kp@pve!kp',
      'Cluster name (a DNS label)': 'lab',
      'Gateway of the node network': '192.168.50.1',
      'IPv4 address of the first node (the others follow)': '192.168.50.21',
      'Kubernetes version (X.Y.Z)': '1.32.1',
      'Proxmox API URL, like https://pve.example.lan:8006': 'https://pve:8006',
      'Proxmox node': 'pve',
      'SSH user on the nodes (the cloud-init user)': 'ubuntu',
      'VMID of the cloud-init template': '9001',
      'VMID of the first node (the others follow)': '501',
    })
    const answers = await collectAnswers({workers: 1}, ask)
    expect(ask.asked).not.toContain('Number of worker nodes')
    expect(ask.asked).not.toContain('Pod subnet')
    expect(ask.asked).toContain('VLAN tag (empty: none)')
    const config = buildConfig(answers)
    expect(config.nodes.map((n) => `${n.name} ${n.vmid} ${n.ip}`)).toEqual(['cp1 501 192.168.50.21', 'w1 502 192.168.50.22'])
    expect(config.cluster.controlPlaneEndpoint).toBe('192.168.50.21:6443')
    expect(config.proxmox).toMatchObject({templateVmid: 9001, tokenSecret: {env: 'PVE_TOKEN_SECRET'}})
    expect(config.network.vlan).toBeUndefined()
    expect(parseConfig(parse(renderConfig(config, './kp.schema.json'))).ok).toBe(true)
  })

  it('without a terminal, names the missing flags', async () => {
    await expect(collectAnswers({name: 'lab'})).rejects.toThrow(UsageError)
    await expect(collectAnswers({name: 'lab'})).rejects.toThrow('missing --kubernetes-version, --first-vmid, --first-ip, --gateway, --ssh-user:')
  })

  it('checks typed answers against the schema', () => {
    expect(checkAnswer(field('gateway'), '10.0.0')).toBe('must be an IPv4 address like 192.168.10.21')
    expect(checkAnswer(field('gateway'), '10.0.0.1')).toBe(true)
    expect(checkAnswer(field('kubernetes-version'), 'v1.31')).toMatch(/no leading "v"/)
    expect(checkAnswer(field('first-vmid'), '42')).toBe('Proxmox VMIDs start at 100')
    expect(checkAnswer(field('dns'), '1.1.1.1, 9.9.9.9')).toBe(true)
    expect(checkAnswer(field('dns'), '1.1.1.1, nine')).toBe('must be an IPv4 address like 192.168.10.21')
    expect(checkAnswer(field('workers'), '-1')).toBe('a whole number from 0')
    expect(checkAnswer(field('vlan'), '')).toBe(true)
    expect(checkAnswer(field('name'), '')).toBe('required')
  })

  it('renders the modeline first and a comment on each section', async () => {
    const config = buildConfig(await collectAnswers({'control-planes': 3, endpoint: 'k8s.lan', 'first-ip': '10.1.0.11', 'first-vmid': 300, gateway: '10.1.0.1', 'kubernetes-version': '1.31.4', name: 'x', prefix: 24, 'ssh-user': 'debian', workers: 0}))
    const text = renderConfig(config, './kp.schema.json')
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=./kp.schema.json')
    for (const section of ['cluster', 'network', 'ssh', 'nodes', 'maintenance', 'health']) expect(text).toMatch(new RegExp(`# .*\\n${section}:`))
    expect(text).toContain('  - {name: cp3, role: control-plane, vmid: 302, ip: 10.1.0.13, cores: 2, memoryMiB: 4096, diskGiB: 32}')
  })
})
