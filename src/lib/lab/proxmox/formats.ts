/**
 * Parameter checks as PVE::JSONSchema does them (pve-common `src/PVE/JSONSchema.pm`): type, format,
 * pattern, length, range and enum, in that order, with the same messages; property strings
 * (`virtio,bridge=vmbr0,tag=20`) parsed with default keys and key aliases; `-list` formats split like
 * PVE::Tools::split_list. Only the named formats of the paths in pve-api-subset.json are known; a few
 * rarely used ones (CPU flags, hostpci) are accepted as free text — see README.md.
 */

export interface SchemaProp {
  alias?: string
  default?: unknown
  default_key?: number
  description?: string
  enum?: string[]
  format?: string | PropertyFormat
  format_description?: string
  items?: SchemaProp
  keyAlias?: string
  maxLength?: number
  maximum?: number | string
  minLength?: number
  minimum?: number | string
  optional?: number
  pattern?: string
  requires?: string
  type?: string
  typetext?: string
}

/** The object form of `format`: the keys of a property string. */
export type PropertyFormat = Record<string, SchemaProp>

export type Errors = Record<string, string>

/** A format check failed: `message` ends with a newline, like a Perl `die`. */
export class FormatError extends Error {
  readonly errors?: Errors

  constructor(message: string, errors?: Errors) {
    super(message)
    this.name = 'FormatError'
    this.errors = errors
  }

  /** PVE::Exception's stringify: the message, then one `path: message` line per nested error. */
  override toString(): string {
    let text = this.message.endsWith('\n') ? this.message : `${this.message}\n`
    for (const [key, value] of Object.entries(this.errors ?? {})) text += `${key}: ${value}\n`
    return text
  }
}

function die(message: string): never {
  throw new FormatError(`${message}\n`)
}

export function addError(errors: Errors, path: string, message: string): void {
  const key = path === '' ? '_root' : path
  const existing = errors[key]
  // Perl joins with a single-quoted '\n', a literal backslash-n.
  errors[key] = existing === undefined ? message : `${existing}\\n${message}`
}

/** Perl regular expressions from the schema, as JavaScript ones. */
export function perlRegex(pattern: string): RegExp {
  const js = pattern.replaceAll('(?^:', '(?:').replace(/\{,(\d+)\}/g, '{0,$1}')
  return new RegExp(`^(?:${js})$`)
}

// PVE::Tools regular expressions for addresses.
const IPV4_OCTET = '(?:25[0-5]|(?:2[0-4]|1[0-9]|[1-9])?[0-9])'
const IPV4_RE = `(?:(?:${IPV4_OCTET}\\.){3}${IPV4_OCTET})`
const IPV6_H16 = '(?:[0-9a-fA-F]{1,4})'
const IPV6_LS32 = `(?:(?:${IPV6_H16}:${IPV6_H16})|${IPV4_RE})`
const IPV6_RE =
  `(?:(?:(?:${IPV6_H16}:){6})${IPV6_LS32}|` +
  `(?:::(?:${IPV6_H16}:){5})${IPV6_LS32}|` +
  `(?:(?:${IPV6_H16})?::(?:${IPV6_H16}:){4})${IPV6_LS32}|` +
  `(?:(?:(?:${IPV6_H16}:){0,1}${IPV6_H16})?::(?:${IPV6_H16}:){3})${IPV6_LS32}|` +
  `(?:(?:(?:${IPV6_H16}:){0,2}${IPV6_H16})?::(?:${IPV6_H16}:){2})${IPV6_LS32}|` +
  `(?:(?:(?:${IPV6_H16}:){0,3}${IPV6_H16})?::(?:${IPV6_H16}:){1})${IPV6_LS32}|` +
  `(?:(?:(?:${IPV6_H16}:){0,4}${IPV6_H16})?::)${IPV6_LS32}|` +
  `(?:(?:(?:${IPV6_H16}:){0,5}${IPV6_H16})?::)${IPV6_H16}|` +
  `(?:(?:(?:${IPV6_H16}:){0,6}${IPV6_H16})?::))`
const ipv4 = new RegExp(`^${IPV4_RE}$`)
const ipv6 = new RegExp(`^${IPV6_RE}$`)
const cidrv4 = new RegExp(`^${IPV4_RE}/(\\d+)$`)
const cidrv6 = new RegExp(`^${IPV6_RE}/(\\d+)$`)
const dnsName = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?\.)*[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$/

export function isIpv4(value: string): boolean {
  return ipv4.test(value)
}

function isCidrV4(value: string): boolean {
  const m = cidrv4.exec(value)
  return m !== null && Number(m[1]) > 7 && Number(m[1]) <= 32
}

function isCidrV6(value: string): boolean {
  const m = cidrv6.exec(value)
  return m !== null && Number(m[1]) > 7 && Number(m[1]) <= 128
}

/** PVE::JSONSchema::parse_size: bytes, or undefined. */
export function parseSize(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([KMGT])?$/.exec(value)
  if (!m) return undefined
  const units: Record<string, number> = {K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4}
  return Math.trunc(Number(m[1]) * (m[2] ? (units[m[2]] ?? 1) : 1))
}

/** PVE::JSONSchema::format_size: the shortest exact unit. */
export function formatSize(bytes: number): string {
  const units = ['', 'K', 'M', 'G', 'T']
  let value = Math.trunc(bytes)
  let unit = 0
  while (unit < units.length - 1 && value % 1024 === 0 && value !== 0) {
    value /= 1024
    unit++
  }
  return `${value}${units[unit]}`
}

/** PVE::Tools::split_list. */
export function splitList(text: string): string[] {
  if (text.includes('\0')) return text.split('\0')
  return text.replace(/[,;]/g, ' ').trim().split(/\s+/).filter((part) => part !== '')
}

const VOLUME_ID = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$/i

function verifyVolumeId(value: string): void {
  if (!VOLUME_ID.test(value)) die(`unable to parse volume ID '${value}'`)
}

const STORAGE_CONTENT = ['images', 'rootdir', 'vztmpl', 'iso', 'backup', 'snippets', 'import', 'none']

type CodeFormat = (value: string) => void

/** Named formats checked by code (`register_format(name, \&sub)`). */
const codeFormats: Record<string, CodeFormat> = {
  string: () => {},
  urlencoded(value) {
    if (!/^[-%a-zA-Z0-9_.!~*'()]*$/.test(value)) die(`invalid urlencoded string: ${value}`)
  },
  'pve-configid'(value) {
    if (!/^[a-z][a-z0-9_-]+$/i.test(value)) die(`invalid configuration ID '${value}'`)
  },
  'pve-storage-id'(value) {
    if (!/^[a-z][a-z0-9\-_.]*[a-z0-9]$/i.test(value)) die(`storage ID '${value}' contains illegal characters`)
  },
  'pve-bridge-id'(value) {
    if (!/^[-_.\w\d]+$/.test(value)) die(`invalid bridge ID '${value}'`)
  },
  'pve-vmid'(value) {
    if (!/^[1-9][0-9]{2,8}$/.test(value)) die('value does not look like a valid VM ID')
  },
  'pve-node'(value) {
    if (!/^([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)$/.test(value)) die('value does not look like a valid node name')
  },
  'pve-poolid'(value) {
    if (!/^[A-Za-z0-9_\-.]+$/.test(value)) die(`pool name '${value}' contains illegal characters`)
  },
  'mac-addr'(value) {
    if (!/^[a-f0-9][02468ace](?::[a-f0-9]{2}){5}$/i.test(value)) die('value does not look like a valid unicast MAC address')
  },
  ipv4(value) {
    if (!ipv4.test(value)) die('value does not look like a valid IPv4 address')
  },
  ipv6(value) {
    if (!ipv6.test(value)) die('value does not look like a valid IPv6 address')
  },
  ip(value) {
    if (!ipv4.test(value) && !ipv6.test(value)) die('value does not look like a valid IP address')
  },
  CIDRv4(value) {
    if (!isCidrV4(value)) die('value does not look like a valid IPv4 CIDR network')
  },
  CIDRv6(value) {
    if (!isCidrV6(value)) die('value does not look like a valid IPv6 CIDR network')
  },
  CIDR(value) {
    if (!isCidrV4(value) && !isCidrV6(value)) die('value does not look like a valid CIDR network')
  },
  'pve-ipv4-config'(value) {
    if (!/^(?:dhcp|manual)$/.test(value) && !isCidrV4(value)) die('value does not look like a valid ipv4 network configuration')
  },
  'pve-ipv6-config'(value) {
    if (!/^(?:auto|dhcp|manual)$/.test(value) && !isCidrV6(value)) die('value does not look like a valid ipv6 network configuration')
  },
  'dns-name'(value) {
    if (!dnsName.test(value)) die('value does not look like a valid DNS name')
  },
  address(value) {
    if (!ipv4.test(value) && !ipv6.test(value) && !dnsName.test(value)) die(`value does not look like a valid address: ${value}`)
  },
  'disk-size'(value) {
    if (parseSize(value) === undefined) die(`value does not look like a valid disk size: ${value}`)
  },
  'pve-startup-order'(value) {
    const ok = value !== '' && value.split(',').every((part) => /^\s*$/.test(part) || /^(order=)?\d+$/.test(part) || /^(up|down)=\d+$/.test(part))
    if (!ok) die('unable to parse startup options')
  },
  'pve-tag'(value) {
    if (!/^[a-z0-9_][a-z0-9_\-+.]*$/i.test(value)) die('invalid characters in tag')
  },
  'pve-task-status-type'(value) {
    if (!/^(ok|error|warning|unknown)$/i.test(value)) die(`invalid status '${value}'`)
  },
  'pve-storage-content'(value) {
    if (!STORAGE_CONTENT.includes(value)) die(`invalid content type '${value}'`)
  },
  'storage-pair'(value) {
    const check = (id: string) => /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i.test(id)
    const m = /^([^:]+):([^:]+)$/.exec(value)
    const ok = value === '1' || (m ? check(m[1] ?? '') && check(m[2] ?? '') : check(value))
    if (!ok) die(`entry '${value}' contains invalid ID - storage ID '${value}' contains illegal characters`)
  },
  'pve-volume-id': verifyVolumeId,
  'pve-volume-id-or-absolute-path'(value) {
    if (!value.startsWith('/')) verifyVolumeId(value)
  },
  'pve-volume-id-or-qm-path'(value) {
    if (value !== 'none' && value !== 'cdrom' && !value.startsWith('/')) verifyVolumeId(value)
  },
  'pve-qm-bootdisk'(value) {
    if (!/^(ide|sata|scsi|virtio)\d+$/.test(value)) die(`invalid boot disk '${value}'`)
  },
  'pve-hotplug-features'(value) {
    if (/^[01]$/.test(value)) return
    for (const feature of value.split(',')) {
      if (!['network', 'disk', 'cpu', 'memory', 'usb', 'cloudinit'].includes(feature)) die(`invalid hotplug feature '${feature}'`)
    }
  },
  'pve-cpuset'(value) {
    if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(value)) die(`unable to parse cpuset '${value}'`)
  },
  // Free text in the lab: PCI passthrough and CPU models do not exist here.
  'pve-qm-hostpci': () => {},
}

const str = (extra: SchemaProp = {}): SchemaProp => ({type: 'string', optional: 1, ...extra})

/** Named formats that are property strings (`register_format(name, {...})`). */
const hashFormats: Record<string, PropertyFormat> = {
  'pve-qm-ipconfig': {
    gw: str({format: 'ipv4'}),
    gw6: str({format: 'ipv6'}),
    ip: str({format: 'pve-ipv4-config'}),
    ip6: str({format: 'pve-ipv6-config'}),
  },
  'pve-qm-boot': {
    legacy: str({default_key: 1, pattern: '[acdn]{1,4}'}),
    order: str({format: 'pve-qm-bootdev-list'}),
  },
  'pve-qm-cicustom': {
    meta: str({format: 'pve-volume-id'}),
    network: str({format: 'pve-volume-id'}),
    user: str({format: 'pve-volume-id'}),
    vendor: str({format: 'pve-volume-id'}),
  },
  'pve-qm-watchdog': {
    action: str({enum: ['reset', 'shutdown', 'poweroff', 'pause', 'debug', 'none']}),
    model: str({default_key: 1, enum: ['i6300esb', 'ib700']}),
  },
  'pve-qm-smbios1': Object.fromEntries(
    ['base64', 'family', 'manufacturer', 'product', 'serial', 'sku', 'uuid', 'version'].map((key) => [key, str()]),
  ),
  'pve-vm-cpu-conf': {
    cputype: str({default_key: 1}),
    flags: str(),
    hidden: {type: 'boolean', optional: 1},
    'hv-vendor-id': str(),
    'phys-bits': str(),
    'reported-model': str(),
  },
  'pve-qemu-sev-fmt': {
    'allow-smt': {type: 'boolean', optional: 1},
    'kernel-hashes': {type: 'boolean', optional: 1},
    'no-debug': {type: 'boolean', optional: 1},
    'no-key-sharing': {type: 'boolean', optional: 1},
    type: str({default_key: 1, enum: ['std', 'es', 'snp']}),
  },
  'pve-qm-ide': {
    file: {type: 'string', default_key: 1, format: 'pve-volume-id-or-qm-path'},
    media: str({enum: ['cdrom', 'disk']}),
    size: str({format: 'disk-size'}),
  },
}

codeFormats['pve-qm-bootdev'] = (value) => {
  if (!/^(?:(ide|sata|scsi|virtio)\d+|net\d+|hostpci\d+|usb\d+|efidisk0|tpmstate0)$/.test(value)) die(`invalid boot device '${value}'`)
}

/** PVE::JSONSchema::parse_boolean. */
export function parseBoolean(value: string): '0' | '1' | undefined {
  if (/^(1|on|yes|true)$/i.test(value)) return '1'
  if (/^(0|off|no|false)$/i.test(value)) return '0'
  return undefined
}

/** PVE::JSONSchema::check_format. Throws FormatError; returns the parsed property string if any. */
export function checkFormat(format: string | PropertyFormat, value: string, path: string): Record<string, string> | undefined {
  if (typeof format !== 'string') return parsePropertyString(format, value, path)
  if (format === 'regex') return undefined
  const m = /^(.*?)(?:-(list|opt))?$/.exec(format)
  const name = m?.[1] ?? format
  const kind = m?.[2] ?? 'none'
  const hash = hashFormats[name]
  const code = codeFormats[name]
  if (!hash && !code) {
    // An unknown named format: accept, as the lab does not model it (README.md lists them).
    return undefined
  }
  if (kind !== 'none' && !code) die(`'-${kind}' format must have code ref, not hash`)
  if (kind === 'list') {
    for (const item of splitList(value)) code?.(item)
    return undefined
  }
  if (kind === 'opt') {
    if (value !== '') code?.(value)
    return undefined
  }
  if (hash) return parsePropertyString(hash, value, path)
  code?.(value)
  return undefined
}

/** PVE::JSONSchema::parse_property_string (additional properties not allowed). */
export function parsePropertyString(format: PropertyFormat | string, data: string, path = ''): Record<string, string> {
  const fmt = typeof format === 'string' ? hashFormats[format] : format
  if (!fmt) die(`unknown format: ${typeof format === 'string' ? format : 'object'}`)
  const res: Record<string, string> = {}
  let defaultKey: string | undefined
  for (const part of data.split(',')) {
    if (/^\s*$/.test(part)) continue
    const kv = /^([^=]+)=(.+)$/s.exec(part)
    if (kv) {
      let key = kv[1] ?? ''
      let value = kv[2] ?? ''
      if (res[key] !== undefined) die(`duplicate key in comma-separated list property: ${key}`)
      let schema = fmt[key]
      if (schema?.alias) {
        if (schema.keyAlias) {
          if (res[schema.keyAlias] !== undefined) die(`key alias '${schema.keyAlias}' is already defined`)
          res[schema.keyAlias] = key
        }
        key = schema.alias
        schema = fmt[key]
      }
      if (!schema) die(`invalid key in comma-separated list property: ${key}`)
      if (schema.type === 'boolean') value = parseBoolean(value) ?? value
      res[key] = value
    } else if (!part.includes('=')) {
      if (defaultKey !== undefined) die(`duplicate key in comma-separated list property: ${defaultKey}`)
      const key = Object.keys(fmt).find((k) => fmt[k]?.default_key)
      if (key === undefined) die('value without key, but schema does not define a default key')
      defaultKey = key
      if (res[key]) die(`duplicate key in comma-separated list property: ${key}`)
      res[key] = part
    } else {
      die('missing key in comma-separated list property')
    }
  }
  const errors: Errors = {}
  checkObject(path, fmt, res, errors)
  if (Object.keys(errors).length > 0) throw new FormatError('format error\n', errors)
  return res
}

/** PVE::JSONSchema::print_property_string: default key first, then required keys, then the rest, sorted. */
export function printPropertyString(data: Record<string, string>, format: PropertyFormat): string {
  const defaultKey = Object.keys(format).find((k) => format[k]?.default_key)
  // keyAlias target → alias target, e.g. model → macaddr (printed as `virtio=BC:24:11:…`).
  const combine: Record<string, string> = {}
  for (const schema of Object.values(format)) {
    if (schema.alias && schema.keyAlias) combine[schema.keyAlias] = schema.alias
  }
  const parts: string[] = []
  const done = new Set<string>()
  const add = (key: string, isDefault: boolean) => {
    if (done.has(key)) return
    done.add(key)
    const value = data[key]
    if (value === undefined) return
    const with_ = combine[key]
    if (with_ !== undefined && data[with_] !== undefined) {
      parts.push(`${value}=${data[with_]}`)
      done.add(with_)
      return
    }
    const schema = format[key]?.alias ? format[format[key]?.alias ?? ''] : format[key]
    const shown = schema?.format === 'disk-size' ? formatSize(parseSize(value) ?? Number(value)) : value
    parts.push(isDefault ? shown : `${key}=${shown}`)
  }
  if (defaultKey !== undefined) add(defaultKey, true)
  const keys = Object.keys(data).sort()
  for (const key of keys) if (format[key] && !format[key]?.optional) add(key, false)
  for (const key of keys) add(key, false)
  return parts.join(',')
}

function isNumber(value: string): boolean {
  return /^[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?$/.test(value)
}

function checkType(path: string, type: string | undefined, value: string | string[], errors: Errors): boolean {
  if (type === undefined || type === 'any') return true
  if (Array.isArray(value)) {
    if (type === 'array') return true
    addError(errors, path, `type check ('${type}') failed - got ARRAY`)
    return false
  }
  switch (type) {
    case 'array':
    case 'object':
      addError(errors, path, `type check ('${type}') failed`)
      return false
    case 'boolean':
      if (value === '0' || value === '1') return true
      break
    case 'integer':
      if (/^[+-]?\d+$/.test(value)) return true
      break
    case 'number':
      if (isNumber(value)) return true
      break
    case 'null':
      addError(errors, path, `type check ('${type}') failed - value is not null`)
      return false
    default:
      return true
  }
  addError(errors, path, `type check ('${type}') failed - got '${value}'`)
  return false
}

/** PVE::JSONSchema::check_prop for one value (a string, or a list for `array` parameters). */
export function checkProp(value: string | string[] | undefined, schema: SchemaProp, path: string, errors: Errors): void {
  if (value === undefined) {
    if (!schema.optional && !schema.alias && schema.type !== 'null') addError(errors, path, 'property is missing and it is not optional')
    return
  }
  if (!checkType(path, schema.type, value, errors)) return
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((item, i) => checkProp(item, schema.items ?? {}, `${path}[${i}]`, errors))
    return
  }
  if (schema.format !== undefined) {
    try {
      checkFormat(schema.format, value, path)
    } catch (error) {
      const text = error instanceof FormatError ? error.toString() : `${String(error)}\n`
      addError(errors, path, `invalid format - ${text}`)
      return
    }
  }
  if (schema.pattern !== undefined && !perlRegex(schema.pattern).test(value)) {
    addError(errors, path, 'value does not match the regex pattern')
    return
  }
  if (schema.maxLength !== undefined && value.length > schema.maxLength) {
    addError(errors, path, `value may only be ${schema.maxLength} characters long`)
    return
  }
  if (schema.minLength !== undefined && value.length < schema.minLength) {
    addError(errors, path, `value must be at least ${schema.minLength} characters long`)
    return
  }
  if (isNumber(value)) {
    if (schema.maximum !== undefined && Number(value) > Number(schema.maximum)) {
      addError(errors, path, `value must have a maximum value of ${schema.maximum}`)
      return
    }
    if (schema.minimum !== undefined && Number(value) < Number(schema.minimum)) {
      addError(errors, path, `value must have a minimum value of ${schema.minimum}`)
      return
    }
  }
  if (schema.enum && !schema.enum.includes(value)) {
    addError(errors, path, `value '${value}' does not have a value in the enumeration '${schema.enum.join(', ')}'`)
  }
}

/** PVE::JSONSchema::check_object with additionalProperties => 0. */
export function checkObject(path: string, schema: PropertyFormat, value: Record<string, string>, errors: Errors): void {
  for (const [key, prop] of Object.entries(schema)) checkProp(value[key], prop, path ? `${path}.${key}` : key, errors)
  for (const key of Object.keys(value)) {
    const prop = schema[key]
    if (prop) {
      if (prop.requires && value[prop.requires] === undefined) {
        addError(errors, path ? `${path}.${prop.requires}` : prop.requires, `missing property - '${path ? `${path}.${key}` : key}' requires this property`)
      }
      continue
    }
    addError(errors, path ? `${path}.${key}` : key, 'property is not defined in schema and the schema does not allow additional properties')
  }
}
