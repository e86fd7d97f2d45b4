/**
 * The Proxmox snapshots kp takes before maintenance (node patch now; upgrade and certificate
 * rotation later): how they are named, how kp tells its own apart, and which of them retention
 * removes. A snapshot is kp's only when its name has kp's prefix AND its description says kp made
 * it: a snapshot the operator named `kp-patch-…` by hand, or one kp vm snapshot took, is never
 * removed. Pure functions, so the rules are unit-tested.
 */
import type {PveSnapshot} from '../proxmox/types.js'

export type MaintenanceKind = 'certs' | 'patch' | 'upgrade'

/** Proxmox's pve-configid: a letter, then letters, digits, `_` and `-`; at most 40 characters. */
export const SNAPSHOT_NAME = /^[A-Za-z][A-Za-z0-9_-]{1,39}$/
const OURS = /^kp-(?:certs|patch|upgrade)-/
/** The words kp's descriptions start with; the prefix alone is not enough to delete a snapshot. */
export const SNAPSHOT_MARK = 'kp maintenance snapshot'

/** `kp-patch-20261206-111324-ab12`: named after the run, so a resumed run finds its own again. */
export function maintenanceSnapshotName(kind: MaintenanceKind, runId: string): string {
  const name = `kp-${kind}-${runId.replaceAll(/[^A-Za-z0-9_-]/g, '-')}`.slice(0, 40)
  if (!SNAPSHOT_NAME.test(name)) throw new Error(`bug: snapshot name ${JSON.stringify(name)} breaks Proxmox's naming rules`)
  return name
}

export function maintenanceSnapshotDescription(kind: MaintenanceKind, runId: string, node: string): string {
  return `${SNAPSHOT_MARK}: made by kp before ${kind} of ${node} (run ${runId}), disk only; kp keeps the newest maintenance.snapshotKeep of its own`
}

export function isMaintenanceSnapshot(snapshot: Pick<PveSnapshot, 'description' | 'name'>): boolean {
  return OURS.test(snapshot.name) && (snapshot.description ?? '').trimStart().startsWith(SNAPSHOT_MARK)
}

/**
 * kp's own snapshots of one VM beyond the newest `keep`, oldest first: what retention deletes.
 * `justTaken` is never among them, whatever the clocks say.
 */
export function snapshotsToPrune(snapshots: readonly PveSnapshot[], keep: number, justTaken?: string): PveSnapshot[] {
  const ours = snapshots.filter((s) => isMaintenanceSnapshot(s))
  // Newest first: by Proxmox's snaptime, then by name (run ids sort by time) when it is missing.
  const newestFirst = [...ours].sort((a, b) => (b.snaptime ?? 0) - (a.snaptime ?? 0) || b.name.localeCompare(a.name))
  const kept = new Set(newestFirst.slice(0, Math.max(keep, 0)).map((s) => s.name))
  if (justTaken !== undefined) kept.add(justTaken)
  return newestFirst.filter((s) => !kept.has(s.name)).reverse()
}
