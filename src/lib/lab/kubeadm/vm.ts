/**
 * A lab VM as the simulated kubeadm and kubelet look at it: its root (through its init's
 * /proc/<pid>/root), the packages dpkg installed, the services the systemctl stub started or
 * enabled, and kubeadm's own files.
 */
import {listVmDir, readVmFile, vmPathExists} from './vm-files.js'

export interface LabVm {
  ip: string
  /** The VM's name (its hostname, and the node name by default). */
  name: string
  /** The VM's root on the host (`/proc/<init>/root`), while it runs. */
  root: string
  vmid: number
  /** Whether a unit is active, per the systemctl stub (false while the VM is down). */
  serviceActive(unit: string): boolean
}

/** The installed version of a Debian package (upstream part: 1.31.8 of 1.31.8-1.1), from dpkg's status file. */
export function installedVersion(root: string, pkg: string): string | undefined {
  const status = readVmFile(root, '/var/lib/dpkg/status')
  if (!status) return undefined
  for (const stanza of status.split(/\n\n+/)) {
    if (!new RegExp(`^Package: ${pkg.replace(/[.+]/g, '\\$&')}$`, 'm').test(stanza)) continue
    // `hold ok installed` after apt-mark hold, as kp node prepare leaves it.
    if (!/^Status: \S+ ok installed$/m.test(stanza)) return undefined
    const version = /^Version: (?:\d+:)?([^\s-]+)/m.exec(stanza)?.[1]
    return version
  }

  return undefined
}

/** Whether the systemctl stub enabled a unit (a *.wants link, as systemd's own enable writes). */
export function unitEnabled(root: string, unit: string): boolean {
  return listVmDir(root, '/etc/systemd/system')
    .filter((d) => d.endsWith('.wants') || d.endsWith('.requires'))
    .some((d) => vmPathExists(root, `/etc/systemd/system/${d}/${unit}`))
}

/** A folder that exists and has entries (kubeadm's DirAvailable check). */
export function dirNotEmpty(root: string, vmPath: string): boolean {
  return listVmDir(root, vmPath).length > 0
}

/** The `server:` of a kubeconfig in the VM (kubelet.conf, admin.conf), without https://. */
export function kubeconfigServer(root: string, vmPath: string): string | undefined {
  const text = readVmFile(root, vmPath)
  const server = text ? /^\s*server:\s*["']?(https:\/\/[^\s"']+)/m.exec(text)?.[1] : undefined
  return server?.replace(/^https:\/\//, '')
}
