/**
 * Pure helpers between the lab's VMs and the shapes the Proxmox API uses: the guest agent's network
 * interfaces, MAC addresses, and the seed that first boot reads.
 */
import {UsageError} from '../../errors.js'
import type {CloudInit, GuestInterface} from '../backend.js'

interface IpAddrJson {
  address?: string
  addr_info?: Array<{family: string; local: string; prefixlen: number}>
  ifname: string
}

/** `ip -j addr show` inside the VM, as qemu-guest-agent's network-get-interfaces reports it. */
export function toGuestInterfaces(ipJson: string): GuestInterface[] {
  return (JSON.parse(ipJson) as IpAddrJson[]).map((link) => ({
    'hardware-address': link.address ?? '00:00:00:00:00:00',
    'ip-addresses': (link.addr_info ?? [])
      .filter((a) => a.family === 'inet' || a.family === 'inet6')
      .map((a) => ({'ip-address': a.local, 'ip-address-type': a.family === 'inet' ? ('ipv4' as const) : ('ipv6' as const), prefix: a.prefixlen})),
    name: link.ifname,
  }))
}

/** The MAC of `net0` (`virtio=BC:24:11:…,bridge=…`), else one derived from the vmid in Proxmox's range. */
export function vmMac(vmid: number, config: Record<string, string>): string {
  const match = /(?:^|,)(?:virtio|e1000|e1000e|rtl8139|vmxnet3)=([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})(?:,|$)/.exec(config.net0 ?? '')
  if (match?.[1]) return match[1].toLowerCase()
  const bytes = [(vmid >>> 16) & 255, (vmid >>> 8) & 255, vmid & 255]
  return ['bc', '24', '11', ...bytes.map((b) => b.toString(16).padStart(2, '0'))].join(':')
}

const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/
const USER = /^[a-z_][a-z0-9_-]{0,31}$/
const CIDR = /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/
const IPV4 = /^(\d{1,3}\.){3}\d{1,3}$/
const DOMAIN = /^[A-Za-z0-9.-]+$/

export function validateCloudInit(vmid: number, ci: CloudInit): void {
  const bad = (what: string): never => {
    throw new UsageError(`VM ${vmid}: cloud-init ${what}`)
  }

  if (!HOSTNAME.test(ci.hostname)) bad(`hostname ${JSON.stringify(ci.hostname)} is not a valid host name`)
  if (!USER.test(ci.user)) bad(`user ${JSON.stringify(ci.user)} is not a valid user name`)
  if (ci.ip !== undefined && !CIDR.test(ci.ip)) bad(`ip ${ci.ip} is not an IPv4 address with prefix (the lab has no DHCP)`)
  if (ci.gateway !== undefined && !IPV4.test(ci.gateway)) bad(`gateway ${ci.gateway} is not an IPv4 address`)
  for (const ns of ci.nameservers) if (!IPV4.test(ns)) bad(`nameserver ${ns} is not an IPv4 address`)
  if (ci.searchdomain !== undefined && !DOMAIN.test(ci.searchdomain)) bad(`searchdomain ${ci.searchdomain} is not a domain`)
  for (const key of ci.sshAuthorizedKeys) if (/[\r\n]/.test(key)) bad('SSH keys must be one key per entry')
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`
}

/** The seed's meta.env, read by the VM's init as shell assignments. */
export function seedEnv(vmid: number, ci: CloudInit): string {
  const vars: Record<string, string> = {
    KPLAB_GATEWAY: ci.gateway ?? '',
    KPLAB_HOSTNAME: ci.hostname,
    KPLAB_INSTANCE_ID: `iid-kplab-${vmid}`,
    KPLAB_IP: ci.ip ?? '',
    KPLAB_NAMESERVERS: ci.nameservers.join(' '),
    KPLAB_SEARCHDOMAIN: ci.searchdomain ?? '',
    KPLAB_USER: ci.user,
  }
  return `${Object.entries(vars).map(([k, v]) => `${k}=${shellQuote(v)}`).join('\n')}\n`
}
