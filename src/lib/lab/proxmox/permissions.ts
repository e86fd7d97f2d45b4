/**
 * API token privileges and the permission checks of PVE::RPCEnvironment: the `check` of each method in
 * the schema (`['perm', '/vms/{vmid}', [privs], 'any', 1]`, `and`, `or`), and the per-option checks of
 * a config update (`check_vm_modify_config_perm`). A failed check is HTTP 403
 * `Permission check failed (/vms/201, VM.Config.Cloudinit|VM.Config.Network)`.
 */
import {ApiError, fail, permissionError} from './api-error.js'
import type {PermissionCheck} from './schema.js'
import {DRIVE_KEY, isCdrom, parseDrive} from './vm-config.js'

/** The built-in privileges of Proxmox VE 8.3. */
export const ALL_PRIVILEGES = [
  'Datastore.Allocate',
  'Datastore.AllocateSpace',
  'Datastore.AllocateTemplate',
  'Datastore.Audit',
  'Group.Allocate',
  'Mapping.Audit',
  'Mapping.Modify',
  'Mapping.Use',
  'Permissions.Modify',
  'Pool.Allocate',
  'Pool.Audit',
  'Realm.Allocate',
  'Realm.AllocateUser',
  'SDN.Allocate',
  'SDN.Audit',
  'SDN.Use',
  'Sys.AccessNetwork',
  'Sys.Audit',
  'Sys.Console',
  'Sys.Incoming',
  'Sys.Modify',
  'Sys.PowerMgmt',
  'Sys.Syslog',
  'User.Modify',
  'VM.Allocate',
  'VM.Audit',
  'VM.Backup',
  'VM.Clone',
  'VM.Config.CDROM',
  'VM.Config.CPU',
  'VM.Config.Cloudinit',
  'VM.Config.Disk',
  'VM.Config.HWType',
  'VM.Config.Memory',
  'VM.Config.Network',
  'VM.Config.Options',
  'VM.Console',
  'VM.Migrate',
  'VM.Monitor',
  'VM.PowerMgmt',
  'VM.Snapshot',
  'VM.Snapshot.Rollback',
] as const

/** A list (granted on `/`, propagated) or a map from ACL path to privileges; the most specific path wins. */
export type TokenPrivileges = readonly string[] | Readonly<Record<string, readonly string[]>>

export class Acl {
  private readonly entries: ReadonlyMap<string, ReadonlySet<string>>

  constructor(privileges: TokenPrivileges = ALL_PRIVILEGES) {
    const map = new Map<string, Set<string>>()
    if (Array.isArray(privileges)) {
      map.set('/', new Set(privileges as readonly string[]))
    } else {
      for (const [path, privs] of Object.entries(privileges as Record<string, readonly string[]>)) {
        map.set(normalizePath(path), new Set(privs))
      }
    }
    this.entries = map
  }

  privilegesAt(path: string): ReadonlySet<string> {
    const target = normalizePath(path)
    let best: string | undefined
    for (const aclPath of this.entries.keys()) {
      const covers = aclPath === '/' || target === aclPath || target.startsWith(`${aclPath}/`)
      if (covers && (best === undefined || aclPath.length > best.length)) best = aclPath
    }
    return best === undefined ? new Set() : (this.entries.get(best) ?? new Set())
  }

  has(path: string, privilege: string): boolean {
    return this.privilegesAt(path).has(privilege)
  }

  /** `GET /access/permissions`: path → {privilege: 1 (propagate)}. */
  dump(path?: string): Record<string, Record<string, number>> {
    const result: Record<string, Record<string, number>> = {}
    const paths = path === undefined ? [...this.entries.keys()] : [normalizePath(path)]
    for (const p of paths) result[p] = Object.fromEntries([...this.privilegesAt(p)].sort().map((priv) => [priv, 1]))
    return result
  }

  /** PVE::RPCEnvironment::check_full. */
  checkFull(path: string, privileges: readonly string[], any: boolean, noerr = false): boolean {
    const granted = this.privilegesAt(path)
    if (any) {
      if (privileges.some((p) => granted.has(p))) return true
      if (noerr) return false
      permissionError(`${normalizePath(path)}, ${privileges.join('|')}`)
    }
    for (const privilege of privileges) {
      if (!granted.has(privilege)) {
        if (noerr) return false
        permissionError(`${normalizePath(path)}, ${privilege}`)
      }
    }
    return true
  }

  /** PVE::RPCEnvironment::exec_api2_perm_check for the `check` of a method's `permissions`. */
  exec(check: PermissionCheck, params: Record<string, unknown>, noerr = false): boolean {
    const [test, ...rest] = check
    if (test === 'and') {
      for (const sub of rest) this.exec(sub as PermissionCheck, params)
      return true
    }
    if (test === 'or') {
      for (const sub of rest) if (this.exec(sub as PermissionCheck, params, true)) return true
      if (noerr) return false
      throw permissionFailed()
    }
    if (test === 'perm') {
      const [template, privileges, ...optionList] = rest as [string, string[], ...unknown[]]
      const options: Record<string, unknown> = {}
      for (let i = 0; i + 1 < optionList.length; i += 2) options[String(optionList[i])] = optionList[i + 1]
      const requireParam = options.require_param
      if (typeof requireParam === 'string' && params[requireParam] === undefined) {
        if (noerr) return false
        throw permissionFailed()
      }
      const path = template.replace(/\{([^}]+)\}/g, (_m, name: string) => {
        const value = params[name]
        return typeof value === 'string' || typeof value === 'number' ? String(value) : ''
      })
      return this.checkFull(path, privileges, Boolean(options.any), noerr)
    }
    // Checks kp never meets (userid-group, userid-param…): refuse, as an unknown check would.
    if (noerr) return false
    throw permissionFailed()
  }
}

function permissionFailed(): Error {
  return new ApiError(403, 'Permission check failed')
}

export function normalizePath(path: string): string {
  const clean = `/${path}`.replace(/\/+/g, '/')
  return clean.length > 1 ? clean.replace(/\/$/, '') : clean
}

const CPU_OPTIONS = new Set(['cores', 'cpu', 'cpulimit', 'cpuunits', 'numa', 'smp', 'sockets', 'vcpus', 'affinity'])
const MEMORY_OPTIONS = new Set(['memory', 'balloon', 'shares'])
const HWTYPE_OPTIONS = new Set(['acpi', 'hotplug', 'kvm', 'machine', 'scsihw', 'smbios1', 'tablet', 'vga', 'watchdog', 'audio0'])
const GENERAL_OPTIONS = new Set([
  'agent', 'autostart', 'bios', 'description', 'keyboard', 'localtime', 'migrate_downtime', 'migrate_speed', 'name',
  'onboot', 'ostype', 'protection', 'reboot', 'startdate', 'startup', 'tdf', 'template', 'tags',
])
const CLOUDINIT_OPTIONS = new Set(['cicustom', 'cipassword', 'citype', 'ciupgrade', 'ciuser', 'nameserver', 'searchdomain', 'sshkeys'])
const DISK_OPTIONS = new Set(['boot', 'bootdisk', 'vmstatestorage'])

/**
 * check_vm_modify_config_perm and the drive checks of update_vm_api: which privilege a token needs on
 * /vms/{vmid} to set or delete one option.
 */
export function checkConfigKey(acl: Acl, vmid: number, key: string, value: string | undefined, current: Record<string, string>): void {
  const path = `/vms/${vmid}`
  if (DRIVE_KEY.test(key)) {
    for (const text of [current[key], value]) {
      if (text === undefined) continue
      const drive = parseDrive(key, text)
      acl.checkFull(path, [drive && isCdrom(drive) ? 'VM.Config.CDROM' : 'VM.Config.Disk'], false)
    }
    return
  }
  if (/^unused\d+$/.test(key) || DISK_OPTIONS.has(key)) return void acl.checkFull(path, ['VM.Config.Disk'], false)
  if (/^serial\d+$/.test(key) || /^usb\d+$/.test(key)) return void acl.checkFull(path, ['VM.Config.HWType'], false)
  if (CPU_OPTIONS.has(key) || /^numa\d+$/.test(key)) return void acl.checkFull(path, ['VM.Config.CPU'], false)
  if (MEMORY_OPTIONS.has(key)) return void acl.checkFull(path, ['VM.Config.Memory'], false)
  if (HWTYPE_OPTIONS.has(key)) return void acl.checkFull(path, ['VM.Config.HWType'], false)
  if (GENERAL_OPTIONS.has(key)) {
    acl.checkFull(path, ['VM.Config.Options'], false)
    if (key === 'startup') acl.checkFull('/', ['Sys.Modify'], false)
    return
  }
  if (key === 'freeze') return void acl.checkFull(path, ['VM.PowerMgmt'], false)
  if (/^(?:net|ipconfig)\d+$/.test(key)) return void acl.checkFull(path, ['VM.Config.Network'], false)
  if (CLOUDINIT_OPTIONS.has(key)) return void acl.checkFull(path, ['VM.Config.Cloudinit', 'VM.Config.Network'], true)
  fail(`only root can set '${key}' config`)
}
