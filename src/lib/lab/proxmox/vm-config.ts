/**
 * VM configuration as qemu-server keeps it: string values in a `.conf`, a SHA-1 `digest` of the file,
 * pending changes for a running VM, drives and NICs as property strings, MAC addresses generated with
 * Proxmox's prefix `BC:24:11`, and the typed JSON that `GET …/config` returns.
 */
import {createHash, randomBytes, randomUUID} from 'node:crypto'

import {parsePropertyString, parseSize, printPropertyString, type PropertyFormat, type SchemaProp} from './formats.js'
import {findProperty, pveApiSchema} from './schema.js'
import type {VmRecord} from './state.js'

export const DRIVE_KEY = /^(?:(?:ide|sata|scsi|virtio)\d+|efidisk0|tpmstate0)$/
export const CLOUDINIT_KEYS = /^(?:cicustom|cipassword|citype|ciupgrade|ciuser|nameserver|searchdomain|sshkeys|ipconfig\d+)$/

/**
 * Options qemu-server changes at once even while the VM runs ($fast_plug_option), plus what the default
 * `hotplug: network,disk,usb` covers. Everything else waits in `pending` until the next cold start.
 */
const FAST_PLUG = new Set(['lock', 'name', 'onboot', 'shares', 'startup', 'description', 'protection', 'vmstatestorage', 'hookscript', 'tags'])

export function configProperties(): Record<string, SchemaProp> {
  return pveApiSchema().paths['/nodes/{node}/qemu/{vmid}/config']?.PUT?.parameters?.properties ?? {}
}

export function optionExists(key: string): boolean {
  return key !== 'node' && key !== 'vmid' && findProperty(configProperties(), key) !== undefined
}

function propertyFormat(key: string): PropertyFormat | undefined {
  const format = findProperty(configProperties(), key)?.format
  return typeof format === 'object' ? format : undefined
}

export function hotpluggable(key: string, config: Record<string, string>): boolean {
  if (FAST_PLUG.has(key)) return true
  const hotplug = config.hotplug ?? 'network,disk,usb'
  const features = hotplug === '1' ? ['network', 'disk', 'usb'] : hotplug === '0' ? [] : hotplug.split(',')
  if (/^net\d+$/.test(key)) return features.includes('network')
  if (DRIVE_KEY.test(key) || /^unused\d+$/.test(key)) return features.includes('disk')
  if (/^usb\d+$/.test(key)) return features.includes('usb')
  if (CLOUDINIT_KEYS.test(key)) return features.includes('cloudinit')
  return false
}

/** PVE::Tools::random_ether_addr with the datacenter default prefix of PVE 8.1+. */
export function randomMac(): string {
  const bytes = [...randomBytes(3)].map((b) => b.toString(16).toUpperCase().padStart(2, '0'))
  return ['BC', '24', '11', ...bytes].join(':')
}

/** parse_net + print_net: validates, fills in a MAC when there is none, prints canonically. */
export function normalizeNet(value: string, key = 'net0', newMac = false): string {
  const format = propertyFormat(key)
  if (!format) return value
  const net = parsePropertyString(format, value, key)
  if (newMac || net.macaddr === undefined) net.macaddr = randomMac()
  return printPropertyString(net, format)
}

export function parseDrive(key: string, value: string): Record<string, string> | undefined {
  const format = propertyFormat(key)
  if (!format) return undefined
  try {
    return parsePropertyString(format, value, key)
  } catch {
    return undefined
  }
}

export function printDrive(key: string, drive: Record<string, string>): string {
  const format = propertyFormat(key)
  return format ? printPropertyString(drive, format) : Object.entries(drive).map(([k, v]) => `${k}=${v}`).join(',')
}

export function isCdrom(drive: Record<string, string>): boolean {
  return drive.media === 'cdrom' || drive.file === 'cdrom' || drive.file === 'none'
}

export function isCloudinitDrive(drive: Record<string, string>): boolean {
  return /(?:^|[:/])(?:vm-\d+-)?cloudinit(?:\.\w+)?$/.test(drive.file ?? '')
}

/** Disk keys (not CD-ROMs, not the cloud-init drive), in config order. */
export function diskKeys(config: Record<string, string>): string[] {
  return Object.keys(config)
    .filter((key) => DRIVE_KEY.test(key))
    .filter((key) => {
      const drive = parseDrive(key, config[key] ?? '')
      return drive !== undefined && !isCdrom(drive) && !isCloudinitDrive(drive)
    })
    .sort()
}

export function driveSizeBytes(key: string, value: string): number {
  const size = parseDrive(key, value)?.size
  return size === undefined ? 0 : (parseSize(size) ?? 0)
}

/** The boot disk as qemu-server picks it: first disk in `boot: order=…`, else `bootdisk`, else the first disk. */
export function bootDisk(config: Record<string, string>): string | undefined {
  const disks = diskKeys(config)
  const order = /(?:^|,)order=([^,]+)/.exec(config.boot ?? '')?.[1]
  if (order) {
    const first = order.split(';').find((dev) => disks.includes(dev))
    if (first) return first
  }
  if (config.bootdisk && disks.includes(config.bootdisk)) return config.bootdisk
  return disks[0]
}

export function agentEnabled(config: Record<string, string>): boolean {
  if (config.agent === undefined) return false
  try {
    return parsePropertyString(propertyFormat('agent') ?? {}, config.agent, 'agent').enabled === '1'
  } catch {
    return false
  }
}

export function memoryMiB(config: Record<string, string>): number {
  const value = config.memory
  if (value === undefined) return 512
  return Number(/(?:^|,)(?:current=)?(\d+)/.exec(value)?.[1] ?? 512)
}

export function cpuCount(config: Record<string, string>): number {
  return Number(config.cores ?? 1) * Number(config.sockets ?? 1)
}

export function isTemplate(config: Record<string, string>): boolean {
  return config.template === '1'
}

export function newUuid(): string {
  return randomUUID()
}

/** The `.conf` text: description as `#` comments, sorted keys, `[PENDING]` and snapshot sections. */
export function renderConf(vm: VmRecord): string {
  const section = (config: Record<string, string>) => {
    const lines: string[] = []
    for (const line of (config.description ?? '').split('\n')) if (config.description !== undefined && line !== '') lines.push(`#${line}`)
    for (const key of Object.keys(config).sort()) if (key !== 'description') lines.push(`${key}: ${config[key]}`)
    return lines.join('\n')
  }
  let text = `${section(vm.config)}\n`
  if (Object.keys(vm.pending).length > 0 || vm.pendingDelete.length > 0) {
    const pending = {...vm.pending}
    if (vm.pendingDelete.length > 0) pending.delete = vm.pendingDelete.join(',')
    text += `\n[PENDING]\n${section(pending)}\n`
  }
  for (const name of Object.keys(vm.snapshots).sort()) {
    const snap = vm.snapshots[name]
    if (!snap) continue
    const meta: Record<string, string> = {...snap.config, snaptime: String(snap.snaptime)}
    if (snap.parent) meta.parent = snap.parent
    if (snap.vmstate) meta.vmstate = '1'
    if (snap.snapstate) meta.snapstate = snap.snapstate
    if (snap.description) meta.description = snap.description
    text += `\n[${name}]\n${section(meta)}\n`
  }
  return text
}

export function configDigest(vm: VmRecord): string {
  return createHash('sha1').update(renderConf(vm)).digest('hex')
}

/** The config with pending values applied (what `GET …/config` shows unless `current=1`). */
export function effectiveConfig(vm: VmRecord): Record<string, string> {
  const config = {...vm.config, ...vm.pending}
  for (const key of vm.pendingDelete) delete config[key]
  return config
}

export function applyPending(vm: VmRecord): void {
  vm.config = effectiveConfig(vm)
  vm.pending = {}
  vm.pendingDelete = []
}

/** Values as JSON types, the way PVE::QemuServer::check_type turns integers and booleans into numbers. */
export function typedConfig(config: Record<string, string>): Record<string, string | number> {
  const typed: Record<string, string | number> = {}
  for (const [key, value] of Object.entries(config)) {
    const type = findProperty(configProperties(), key)?.type
    const numeric = (type === 'integer' || type === 'boolean' || type === 'number') && /^-?\d+(\.\d+)?$/.test(value)
    typed[key] = numeric ? Number(value) : value
  }
  return typed
}

/** Rename a template's or VM's disk volume for another VM id (`base-9000-disk-0` → `vm-201-disk-0`). */
export function volumeFor(file: string, vmid: number, storage?: string): string {
  const m = /^([^:]+):(?:base-\d+-disk-\d+\/)?(?:vm|base)-\d+-(disk-\d+|cloudinit)(\.\w+)?$/.exec(file)
  if (!m) return file
  return `${storage ?? m[1]}:vm-${vmid}-${m[2]}${m[3] ?? ''}`
}

export interface TemplateSpec {
  bridge?: string
  cores?: number
  /** Extra or overriding config keys, as `.conf` strings. */
  config?: Record<string, string>
  diskSize?: string
  memoryMiB?: number
  name: string
  node?: string
  storage?: string
  vmid: number
}

/** A cloud-init template the way `qm template` leaves one: base disk, cloud-init drive, agent, serial console. */
export function templateConfig(spec: TemplateSpec, storage: string): Record<string, string> {
  const config: Record<string, string> = {
    agent: '1',
    boot: 'order=scsi0',
    cores: String(spec.cores ?? 1),
    ide2: `${storage}:vm-${spec.vmid}-cloudinit,media=cdrom`,
    memory: String(spec.memoryMiB ?? 2048),
    name: spec.name,
    net0: normalizeNet(`virtio,bridge=${spec.bridge ?? 'vmbr0'}`),
    ostype: 'l26',
    scsi0: `${storage}:base-${spec.vmid}-disk-0,size=${spec.diskSize ?? '2G'}`,
    scsihw: 'virtio-scsi-pci',
    serial0: 'socket',
    smbios1: `uuid=${newUuid()}`,
    sockets: '1',
    template: '1',
    vga: 'serial0',
    vmgenid: newUuid(),
  }
  return {...config, ...spec.config}
}
