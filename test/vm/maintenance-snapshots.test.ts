/** src/lib/vm/maintenance-snapshots.ts: names within Proxmox's rules, kp's own recognised by name AND description, retention. */
import {describe, expect, it} from 'vitest'

import type {PveSnapshot} from '../../src/lib/proxmox/types.js'
import {
  isMaintenanceSnapshot,
  maintenanceSnapshotDescription,
  maintenanceSnapshotName,
  SNAPSHOT_NAME,
  snapshotsToPrune,
} from '../../src/lib/vm/maintenance-snapshots.js'

const ours = (runId: string, snaptime: number): PveSnapshot => ({
  description: maintenanceSnapshotDescription('patch', runId, 'w1'),
  name: maintenanceSnapshotName('patch', runId),
  snaptime,
})

describe('maintenance snapshot names', () => {
  it('names the snapshot after the run, within pve-configid and 40 characters', () => {
    const name = maintenanceSnapshotName('patch', '20261206-111324-ab12')
    expect(name).toBe('kp-patch-20261206-111324-ab12')
    expect(name).toMatch(SNAPSHOT_NAME)
    expect(maintenanceSnapshotName('upgrade', 'x'.repeat(60)).length).toBeLessThanOrEqual(40)
    expect(maintenanceSnapshotName('certs', 'odd.run id')).toBe('kp-certs-odd-run-id')
  })

  it('recognises its own only by prefix and description together', () => {
    expect(isMaintenanceSnapshot(ours('20261206-111324-ab12', 1))).toBe(true)
    expect(isMaintenanceSnapshot({description: 'my own, before patching', name: 'kp-patch-manual'})).toBe(false)
    expect(isMaintenanceSnapshot({description: maintenanceSnapshotDescription('patch', 'r', 'w1'), name: 'before-patch'})).toBe(false)
    expect(isMaintenanceSnapshot({description: 'kp vm snapshot kp-patch-x', name: 'kp-patch-x'})).toBe(false)
  })
})

describe('snapshotsToPrune', () => {
  const snapshots: PveSnapshot[] = [
    ours('20261001-000000-aaaa', 100),
    {description: 'by hand', name: 'kp-patch-20260901-000000-zzzz', snaptime: 50},
    ours('20261101-000000-bbbb', 200),
    {name: 'current'},
    ours('20261201-000000-cccc', 300),
    ours('20261206-000000-dddd', 400),
    {description: 'kp vm snapshot before-upgrade', name: 'before-upgrade', snaptime: 10},
  ]

  it('keeps the newest N of its own and deletes only older ones of its own, oldest first', () => {
    expect(snapshotsToPrune(snapshots, 3).map((s) => s.name)).toEqual(['kp-patch-20261001-000000-aaaa'])
    expect(snapshotsToPrune(snapshots, 1).map((s) => s.name)).toEqual(['kp-patch-20261001-000000-aaaa', 'kp-patch-20261101-000000-bbbb', 'kp-patch-20261201-000000-cccc'])
    expect(snapshotsToPrune(snapshots, 10)).toEqual([])
  })

  it('never deletes the snapshot just taken, even when its clock says it is older', () => {
    const skewed = [...snapshots, {...ours('20261206-120000-eeee', 5)}]
    expect(snapshotsToPrune(skewed, 1, 'kp-patch-20261206-120000-eeee').map((s) => s.name)).not.toContain('kp-patch-20261206-120000-eeee')
  })

  it('orders by name when Proxmox gives no snaptime', () => {
    const noTimes = snapshots.filter((s) => isMaintenanceSnapshot(s)).map(({snaptime: _ignored, ...s}) => s)
    expect(snapshotsToPrune(noTimes, 2).map((s) => s.name)).toEqual(['kp-patch-20261001-000000-aaaa', 'kp-patch-20261101-000000-bbbb'])
  })
})
