/**
 * Cloud-init as qemu-server generates it from a VM config (PVE::QemuServer::Cloudinit): the user from
 * `ciuser`, keys from the URL-encoded `sshkeys`, the address from `ipconfig0`, DNS from `nameserver` and
 * `searchdomain`, the hostname from `name`. The lab hands the result to the backend as a VmSpec.
 */
import {createHash} from 'node:crypto'

import type {CloudInit, VmSpec} from '../backend.js'
import {parsePropertyString, splitList} from './formats.js'
import {CLOUDINIT_KEYS} from './vm-config.js'

/** The distribution's default user, which cloud-init uses when `ciuser` is not set. */
export const DEFAULT_CI_USER = 'debian'

export function decodeSshKeys(sshkeys: string | undefined): string[] {
  if (!sshkeys) return []
  let text: string
  try {
    text = decodeURIComponent(sshkeys)
  } catch {
    text = sshkeys
  }
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
}

/** PVE::Tools::validate_ssh_public_keys, approximately: every line must look like an OpenSSH public key. */
export function sshKeysValid(sshkeys: string): boolean {
  return decodeSshKeys(sshkeys).every((line) =>
    /^(?:(?:[^\s"]+|"[^"]*")(?:,(?:[^\s"]+|"[^"]*"))*\s+)?(?:ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-nistp(?:256|384|521)|sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)\s+[A-Za-z0-9+/]+={0,3}(?:\s.*)?$/.test(line),
  )
}

export function hostnameOf(config: Record<string, string>, vmid: number): string {
  return (config.name ?? `VM${vmid}`).split('.')[0] ?? `VM${vmid}`
}

export function cloudInitOf(config: Record<string, string>, vmid: number, defaultUser = DEFAULT_CI_USER): CloudInit {
  let ip: string | undefined
  let gateway: string | undefined
  if (config.ipconfig0) {
    const parsed = parsePropertyString('pve-qm-ipconfig', config.ipconfig0, 'ipconfig0')
    if (parsed.ip && parsed.ip !== 'dhcp' && parsed.ip !== 'manual') ip = parsed.ip
    gateway = parsed.gw
  }
  return {
    gateway,
    hostname: hostnameOf(config, vmid),
    ip,
    nameservers: config.nameserver ? splitList(config.nameserver) : [],
    searchdomain: config.searchdomain,
    sshAuthorizedKeys: decodeSshKeys(config.sshkeys),
    user: config.ciuser ?? defaultUser,
  }
}

export function vmSpecOf(config: Record<string, string>, vmid: number, defaultUser?: string): VmSpec {
  const clean = {...config}
  delete clean.digest
  return {cloudInit: cloudInitOf(config, vmid, defaultUser), config: clean, name: hostnameOf(config, vmid), vmid}
}

/** The cloud-init values of a config, to compare with what the last generated drive holds. */
export function cloudInitValues(config: Record<string, string>): Record<string, string> {
  const values: Record<string, string> = {}
  for (const [key, value] of Object.entries(config)) if (CLOUDINIT_KEYS.test(key) || key === 'name') values[key] = value
  return values
}

/** `GET …/cloudinit/dump`: what the generated NoCloud drive would contain. */
export function dumpCloudInit(config: Record<string, string>, vmid: number, type: string, defaultUser?: string): string {
  const ci = cloudInitOf(config, vmid, defaultUser)
  if (type === 'meta') {
    const id = createHash('sha1').update(JSON.stringify(cloudInitValues(config))).digest('hex')
    return `instance-id: ${id}\n`
  }
  if (type === 'network') {
    const lines = ['version: 1', 'config:', '    - type: physical', '      name: eth0']
    const mac = /=([0-9A-F:]{17})/i.exec(config.net0 ?? '')?.[1]
    if (mac) lines.push(`      mac_address: '${mac.toLowerCase()}'`)
    lines.push('      subnets:')
    if (ci.ip) {
      lines.push('      - type: static', `        address: '${ci.ip}'`)
      if (ci.gateway) lines.push(`        gateway: '${ci.gateway}'`)
    } else {
      lines.push('      - type: dhcp4')
    }
    if (ci.nameservers.length > 0 || ci.searchdomain) {
      lines.push('    - type: nameserver', '      address:', ...ci.nameservers.map((ns) => `      - '${ns}'`))
      if (ci.searchdomain) lines.push('      search:', `      - '${ci.searchdomain}'`)
    }
    return `${lines.join('\n')}\n`
  }
  const fqdn = ci.searchdomain ? `${ci.hostname}.${ci.searchdomain}` : ci.hostname
  const lines = ['#cloud-config', `hostname: ${ci.hostname}`, 'manage_etc_hosts: true', `fqdn: ${fqdn}`]
  if (config.ciuser) lines.push(`user: ${config.ciuser}`)
  if (ci.sshAuthorizedKeys.length > 0) lines.push('ssh_authorized_keys:', ...ci.sshAuthorizedKeys.map((key) => `  - ${key}`))
  lines.push('chpasswd:', '  expire: False', 'users:', '  - default', `package_upgrade: ${config.ciupgrade === '0' ? 'false' : 'true'}`)
  return `${lines.join('\n')}\n`
}
