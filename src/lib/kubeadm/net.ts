/**
 * The parts of Go's net package and of apimachinery's name validation that kubeadm's checks lean
 * on, with their error wording: IPs parsed "sloppily" (IPv4 may have leading zeros), CIDRs of
 * either family, host:port splitting, DNS-1123 subdomains.
 */
import {isIPv6} from 'node:net'

export type IpFamily = 4 | 6

/** netutils.ParseIPSloppy: the family of a valid address, else undefined. */
export function ipFamily(text: string): IpFamily | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text)
  if (v4) return v4.slice(1).every((octet) => Number(octet) <= 255) ? 4 : undefined
  return isIPv6(text) ? 6 : undefined
}

export interface Cidr {
  family: IpFamily
  /** The network, normalised the way Go's IPNet.String() prints it. */
  network: string
  prefix: number
}

/** netutils.ParseCIDRSloppy: address/prefix; undefined when Go would refuse it. */
export function parseCidr(text: string): Cidr | undefined {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(text)
  const family = match ? ipFamily(match[1]!) : undefined
  if (!match || !family) return undefined
  const prefix = Number(match[2])
  const bits = family === 4 ? 32 : 128
  if (prefix > bits) return undefined
  const value = family === 4 ? ipv4ToBig(match[1]!) : ipv6ToBig(match[1]!)
  const mask = ((1n << BigInt(bits)) - 1n) ^ ((1n << BigInt(bits - prefix)) - 1n)
  const network = value & mask
  return {family, network: `${family === 4 ? bigToIpv4(network) : bigToIpv6(network)}/${prefix}`, prefix}
}

/** netutils.RangeSize: addresses in the subnet, capped like Go's int64. */
export function rangeSize(cidr: Cidr): bigint {
  const hostBits = (cidr.family === 4 ? 32 : 128) - cidr.prefix
  return hostBits >= 63 ? 2n ** 63n - 1n : 2n ** BigInt(hostBits)
}

function ipv4ToBig(ip: string): bigint {
  return ip.split('.').reduce((n, octet) => n * 256n + BigInt(Number(octet)), 0n)
}

function bigToIpv4(n: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((n >> shift) & 255n)).join('.')
}

function ipv6ToBig(ip: string): bigint {
  let text = ip
  // An embedded IPv4 tail (::ffff:1.2.3.4) is two more groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (v4) {
    const n = ipv4ToBig(v4[1]!)
    text = `${text.slice(0, -v4[1]!.length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`
  }

  const [head = '', tail] = text.split('::')
  const headGroups = head === '' ? [] : head.split(':')
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':')
  const zeros = tail === undefined ? [] : Array.from({length: 8 - headGroups.length - tailGroups.length}, () => '0')
  return [...headGroups, ...zeros, ...tailGroups].reduce((n, group) => (n << 16n) + BigInt(Number.parseInt(group, 16)), 0n)
}

/** Go's IPv6 String(): lower-case hex, the longest run of two or more zero groups as `::`. */
function bigToIpv6(n: bigint): string {
  const groups = Array.from({length: 8}, (_, i) => Number((n >> BigInt(112 - 16 * i)) & 0xffffn))
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8; i++) {
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i]
  }

  const hex = groups.map((g) => g.toString(16))
  if (bestStart === -1) return hex.join(':')
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`
}

/** net.SplitHostPort, with Go's error text ("address k8s.lan: missing port in address"). */
export function splitHostPort(hostport: string): {error: string} | {host: string; port: string} {
  const fail = (why: string) => ({error: `address ${hostport}: ${why}`})
  const i = hostport.lastIndexOf(':')
  if (i < 0) return fail('missing port in address')
  let host: string
  let j = 0
  let k = 0
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']')
    if (end < 0) return fail("missing ']' in address")
    if (end + 1 === hostport.length) return fail('missing port in address')
    if (end + 1 !== i) return fail(hostport[end + 1] === ':' ? 'too many colons in address' : 'missing port in address')
    host = hostport.slice(1, end)
    j = 1
    k = end + 1
  } else {
    host = hostport.slice(0, i)
    if (host.includes(':')) return fail('too many colons in address')
  }

  if (hostport.slice(j).includes('[')) return fail("unexpected '[' in address")
  if (hostport.slice(k).includes(']')) return fail("unexpected ']' in address")
  return {host, port: hostport.slice(i + 1)}
}

/** kubeadmutil.ParsePort: a decimal number from 1 to 65535. */
export function validPort(port: string): boolean {
  return /^[+-]?\d+$/.test(port) && Number(port) >= 1 && Number(port) <= 65_535
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const DNS1123_SUBDOMAIN_FMT = String.raw`[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`

/** validation.IsDNS1123Subdomain: the messages apimachinery gives, none when valid. */
export function dns1123SubdomainErrors(value: string): string[] {
  const errors: string[] = []
  if (value.length > 253) errors.push('must be no more than 253 characters')
  if (!DNS1123_SUBDOMAIN.test(value)) {
    errors.push(`a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '${DNS1123_SUBDOMAIN_FMT}')`)
  }

  return errors
}

/** validation.IsWildcardDNS1123Subdomain */
export function wildcardDns1123SubdomainErrors(value: string): string[] {
  const errors: string[] = []
  if (value.length > 253) errors.push('must be no more than 253 characters')
  if (!/^\*\./.test(value) || !DNS1123_SUBDOMAIN.test(value.slice(2))) {
    errors.push(`a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.${DNS1123_SUBDOMAIN_FMT}')`)
  }

  return errors
}

/** kubeadmutil.ParseHostPort: host an IP or DNS-1123 subdomain, optional valid port. */
export function validHostPort(hostport: string): boolean {
  const split = splitHostPort(hostport)
  const [host, port] = 'error' in split ? [hostport, ''] : [split.host, split.port]
  if (port !== '' && !validPort(port)) return false
  return ipFamily(host) !== undefined || dns1123SubdomainErrors(host).length === 0
}
