/**
 * The age of the newest verified etcd backup kp wrote, against backup.warnAgeHours and
 * backup.criticalAgeHours: cron notices backups that stopped. Only the backups folder is read (no
 * network); the newest backup is verified in full (its SHA-256 against the sidecar, etcd's hash,
 * bolt's meta pages), and an older one stands in when a newer one fails.
 */
import {existsSync} from 'node:fs'
import path from 'node:path'

import {backupsDir, listBackups, verifyBackup} from '../../etcd/backups.js'
import type {Check} from '../types.js'

const HOUR = 3_600_000

export const backupCheck: Check = {
  // A cluster kp never backed up is not nagged by every run; once the folder exists, backups that stop are noticed.
  byDefault: (loaded, stateDir) => existsSync(backupsDir(stateDir, loaded.config.cluster.name)),
  description: 'Age of the newest verified etcd backup kp wrote (kp backup etcd) against backup.warnAgeHours and backup.criticalAgeHours.',
  name: 'backup',
  async run({loaded, now, signal, stateDir}) {
    const {backup, cluster} = loaded.config
    const dir = backupsDir(stateDir, cluster.name)
    const details: string[] = []
    for (const entry of listBackups(dir)) {
      const v = await verifyBackup(entry.file, entry.sidecar, signal)
      if (!v.ok) {
        details.push(`${path.basename(entry.file)} fails verification: ${v.problems.join('; ')}`)
        continue
      }

      const takenAt = Date.parse(entry.sidecar.createdAt)
      const ageMs = Math.max(0, now.getTime() - takenAt)
      const age = `${(ageMs / HOUR).toFixed(1)} h`
      const status = ageMs > backup.criticalAgeHours * HOUR ? 'CRITICAL' : ageMs > backup.warnAgeHours * HOUR ? 'WARNING' : 'OK'
      const limit = status === 'CRITICAL' ? ` (critical after ${backup.criticalAgeHours} h)` : status === 'WARNING' ? ` (warning after ${backup.warnAgeHours} h)` : ''
      const damaged = details.length > 0 ? `; ${details.length} newer backup(s) fail verification` : ''
      return {backup: {ageSeconds: Math.round(ageMs / 1000), takenAt: entry.sidecar.createdAt}, details: [`${entry.file}: revision ${entry.sidecar.revision}, ${entry.sidecar.totalKeys} keys, ${entry.sidecar.size} bytes`, ...details], reason: `newest verified backup is ${age} old, from ${entry.sidecar.node}${limit}${damaged}`, status}
    }

    const none = details.length > 0 ? `no verified etcd backup in ${dir}: every one fails verification` : `no etcd backup in ${dir}: "kp backup etcd" takes one (run it from cron)`
    return {details, reason: none, status: details.length > 0 ? 'CRITICAL' : 'WARNING'}
  },
}
