/**
 * The control-plane endpoint must be an address the nodes reach directly on the node network: a
 * control plane's own address (one control plane) or a free address kept for a virtual IP. An
 * address outside gateway/prefix, the gateway, the network or broadcast address, or a worker (which
 * never runs an API server) would leave kubeadm init or every join waiting for an API that never
 * answers.
 */
import {lookup as dnsLookup} from 'node:dns/promises'

import {contains, endpointParts, formatSubnet, ipv4ToInt, isIpv4, subnetOf} from '../config/net.js'
import type {KpConfig} from '../config/schema.js'
import {errorMessage} from '../errors.js'

/** The host part of cluster.controlPlaneEndpoint (the schema has added the port). */
export function endpointHost(config: KpConfig): string {
  return endpointParts(config.cluster.controlPlaneEndpoint).host
}

/**
 * A problem with an IPv4 endpoint, or undefined. A DNS name is not checked here (it needs a lookup:
 * see checkEndpointResolves).
 */
export function checkEndpointInNetwork(config: KpConfig): string | undefined {
  const host = endpointHost(config)
  return isIpv4(host) ? checkAddress(config, host, `cluster.controlPlaneEndpoint ${host}`) : undefined
}

export interface ResolveOptions {
  /** dns.lookup by default; tests pass their own. */
  lookup?: (host: string) => Promise<string[]>
}

/**
 * checkEndpointInNetwork for any endpoint: a DNS name must resolve from this machine (kp itself
 * talks to the API through it after kubeadm init) to IPv4 addresses that pass the same rules.
 */
export async function checkEndpointResolves(config: KpConfig, options: ResolveOptions = {}): Promise<string | undefined> {
  const host = endpointHost(config)
  if (isIpv4(host)) return checkEndpointInNetwork(config)
  const lookup = options.lookup ?? (async (name: string) => (await dnsLookup(name, {all: true, family: 4})).map((a) => a.address))
  let addresses: string[]
  try {
    addresses = await lookup(host)
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code === 'ENOTFOUND' ? 'no such name' : errorMessage(error)
    return `cluster.controlPlaneEndpoint ${host} does not resolve from this machine (${why}): kp and the nodes reach the API server through it; add a DNS record (or an /etc/hosts line) for it, or use an IP address`
  }

  if (addresses.length === 0) return `cluster.controlPlaneEndpoint ${host} has no IPv4 address: add an A record, or use an IP address`
  const problems = addresses.map((ip) => checkAddress(config, ip, `cluster.controlPlaneEndpoint ${host} resolves to ${ip}, which`)).filter((p) => p !== undefined)
  return problems.length > 0 ? problems.join('; ') : undefined
}

/** `subject` reads as the start of a sentence: "cluster.controlPlaneEndpoint 10.0.0.5". */
function checkAddress(config: KpConfig, ip: string, subject: string): string | undefined {
  const {network} = config
  const subnet = subnetOf(network.gateway, network.prefix)
  const where = `${formatSubnet(subnet)} (network.gateway/network.prefix)`
  const fix = `use the first control plane's address or a free address in ${formatSubnet(subnet)} for a virtual IP`
  if (!contains(subnet, ip)) return `${subject} is outside the node network ${where}: the nodes must reach the API server directly; ${fix}`
  if (ip === network.gateway) return `${subject} is network.gateway, the router, not an API server; ${fix}`
  if (network.prefix < 31 && ipv4ToInt(ip) === subnet.first) return `${subject} is the network address of ${formatSubnet(subnet)}; ${fix}`
  if (network.prefix < 31 && ipv4ToInt(ip) === subnet.last) return `${subject} is the broadcast address of ${formatSubnet(subnet)}; ${fix}`
  const worker = config.nodes.find((n) => n.ip === ip && n.role === 'worker')
  if (worker) return `${subject} is the address of worker ${worker.name}, which runs no API server; ${fix}`
  return undefined
}
