/** IPv4 arithmetic for the cross-field rules: subnets, containment, overlap. */

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/

export function isIpv4(text: string): boolean {
  return IPV4.test(text)
}

/** The address as an unsigned 32-bit number. Only call with a valid address. */
export function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0)
}

export function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.')
}

export interface Subnet {
  /** First address (the network address). */
  first: number
  /** Last address (the broadcast address). */
  last: number
  prefix: number
}

export function subnetOf(ip: string, prefix: number): Subnet {
  const size = 2 ** (32 - prefix)
  const first = Math.floor(ipv4ToInt(ip) / size) * size
  return {first, last: first + size - 1, prefix}
}

/** `10.244.0.0/16` → subnet, or undefined when the text is not IPv4 CIDR notation. */
export function parseCidr(cidr: string): Subnet | undefined {
  const match = /^(.+)\/(\d{1,2})$/.exec(cidr)
  if (!match || !isIpv4(match[1]!) || Number(match[2]) > 32) return undefined
  return subnetOf(match[1]!, Number(match[2]))
}

export function formatSubnet(subnet: Subnet): string {
  return `${intToIpv4(subnet.first)}/${subnet.prefix}`
}

export function contains(subnet: Subnet, ip: string): boolean {
  const n = ipv4ToInt(ip)
  return n >= subnet.first && n <= subnet.last
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  return a.first <= b.last && b.first <= a.last
}

/** The address `offset` after `ip`, or undefined past 255.255.255.255. */
export function addToIpv4(ip: string, offset: number): string | undefined {
  const n = ipv4ToInt(ip) + offset
  return n > 0xff_ff_ff_ff ? undefined : intToIpv4(n)
}

/** cluster.controlPlaneEndpoint (the schema always adds the port) as its host (no IPv6 brackets) and port. */
export function endpointParts(endpoint: string): {host: string; port: number} {
  const at = endpoint.lastIndexOf(':')
  return {host: endpoint.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(endpoint.slice(at + 1))}
}
