import {describe, expect, it} from 'vitest'

import {checkEndpointInNetwork, checkEndpointResolves} from '../../src/lib/preflight/index.js'
import {preflightConfig} from './config.js'

describe('checkEndpointInNetwork', () => {
  it.each([
    ['the control plane itself', '10.77.0.11', 24],
    ['a free address for a VIP, port given', '10.77.0.50:8443', 24],
    ['the last host of a /24', '10.77.0.254', 24],
    ['inside a /20 but outside the gateway\'s /24', '10.77.12.5', 20],
  ])('accepts %s', (_name, endpoint, prefix) => {
    expect(checkEndpointInNetwork(preflightConfig({endpoint, prefix}))).toBeUndefined()
  })

  it('refuses an address outside gateway/prefix, naming the value, the rule and what to do', () => {
    expect(checkEndpointInNetwork(preflightConfig({endpoint: '10.78.0.10:6443'}))).toBe(
      "cluster.controlPlaneEndpoint 10.78.0.10 is outside the node network 10.77.0.0/24 (network.gateway/network.prefix): the nodes must reach the API server directly; use the first control plane's address or a free address in 10.77.0.0/24 for a virtual IP",
    )
  })

  it('does the prefix math: /25 and /23 boundaries', () => {
    expect(checkEndpointInNetwork(preflightConfig({endpoint: '10.77.0.127', prefix: 25}))).toContain('broadcast address of 10.77.0.0/25')
    expect(checkEndpointInNetwork(preflightConfig({endpoint: '10.77.0.128', prefix: 25}))).toContain('outside the node network 10.77.0.0/25')
    expect(checkEndpointInNetwork(preflightConfig({endpoint: '10.77.1.200', prefix: 23}))).toBeUndefined()
    expect(checkEndpointInNetwork(preflightConfig({endpoint: '10.77.1.255', prefix: 23}))).toContain('broadcast address of 10.77.0.0/23')
    expect(checkEndpointInNetwork(preflightConfig({endpoint: '10.77.2.0', prefix: 23}))).toContain('outside the node network 10.77.0.0/23')
  })

  it.each([
    ['the gateway', '10.77.0.1', 'is network.gateway'],
    ['the network address', '10.77.0.0', 'is the network address of 10.77.0.0/24'],
    ['the broadcast address', '10.77.0.255', 'is the broadcast address of 10.77.0.0/24'],
    ['a worker', '10.77.0.21', 'is the address of worker w1, which runs no API server'],
  ])('refuses %s', (_name, endpoint, message) => {
    expect(checkEndpointInNetwork(preflightConfig({endpoint}))).toContain(message)
  })

  it('leaves a DNS name to checkEndpointResolves', () => {
    expect(checkEndpointInNetwork(preflightConfig({endpoint: 'k8s.example.lan'}))).toBeUndefined()
  })
})

describe('checkEndpointResolves', () => {
  const lookup = (table: Record<string, string[]>) => async (host: string) => {
    const found = table[host]
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), {code: 'ENOTFOUND'})
    return found
  }

  it('checks every address a name resolves to', async () => {
    expect(await checkEndpointResolves(preflightConfig({endpoint: 'k8s.example.lan:6443'}), {lookup: lookup({'k8s.example.lan': ['10.77.0.10']})})).toBeUndefined()
    expect(await checkEndpointResolves(preflightConfig({endpoint: 'k8s.example.lan'}), {lookup: lookup({'k8s.example.lan': ['10.77.0.10', '192.168.1.10']})})).toBe(
      "cluster.controlPlaneEndpoint k8s.example.lan resolves to 192.168.1.10, which is outside the node network 10.77.0.0/24 (network.gateway/network.prefix): the nodes must reach the API server directly; use the first control plane's address or a free address in 10.77.0.0/24 for a virtual IP",
    )
  })

  it('a name that does not resolve is a problem', async () => {
    expect(await checkEndpointResolves(preflightConfig({endpoint: 'nowhere.example.lan'}), {lookup: lookup({})})).toMatch(/^cluster.controlPlaneEndpoint nowhere.example.lan does not resolve from this machine \(no such name\).*add a DNS record/)
  })

  it('an IP address needs no lookup', async () => {
    expect(await checkEndpointResolves(preflightConfig({endpoint: '10.78.0.1'}), {lookup: lookup({})})).toContain('outside the node network')
  })

  it('uses the system resolver by default (localhost)', async () => {
    expect(await checkEndpointResolves(preflightConfig({endpoint: 'localhost'}))).toContain('localhost resolves to 127.0.0.1, which is outside the node network')
  })
})
