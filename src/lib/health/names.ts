/**
 * The check names, in report order. Kept apart from the checks themselves so `kp health --help` and
 * flag validation never load them. Names are stable: monitoring rules and cron lines refer to them.
 */
export const CHECK_NAMES = ['api', 'etcd', 'nodes', 'kube-system', 'workloads', 'pdbs', 'csrs', 'apiserver-certificate', 'proxmox', 'backup', 'certificates', 'node-state'] as const

export type CheckName = (typeof CHECK_NAMES)[number]

export const OUTPUTS = ['text', 'json', 'prometheus'] as const

export type OutputFormat = (typeof OUTPUTS)[number]
