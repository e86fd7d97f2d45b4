import path from 'node:path'

import {Flags} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import type {BackupRow} from '../../lib/etcd/backups.js'
import {table} from '../../lib/table.js'

export default class BackupList extends BaseCommand<typeof BackupList> {
  static description = `List the etcd backups kp wrote, newest first, each verified again: its SHA-256 against its sidecar, etcd's own hash at the end of the snapshot, and bolt's meta pages.
Only a .db with a sidecar kp wrote is listed; other files in the folder are not kp's and are left alone. Reading every file takes about as long as copying it.`

  static examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json', '<%= config.bin %> <%= command.id %> --dir /mnt/backups/etcd']

  static flags = {
    dir: Flags.string({description: 'The folder to list [default: <state-dir>/clusters/<cluster>/backups].'}),
  }

  async run(): Promise<BackupRow[]> {
    const {flags} = await this.parse(BackupList)
    const {backupRows, backupsDir} = await import('../../lib/etcd/backups.js')
    const dir = flags.dir ?? backupsDir(this.stateDir, (await (await import('../../lib/config/load.js')).loadConfig(this.configPath)).config.cluster.name)
    const rows = await backupRows(dir)
    const size = (bytes: number) => (bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`)
    if (rows.length === 0) this.log(`No backups kp wrote in ${dir}.`)
    else this.log(table([['FILE', 'NODE', 'TIME', 'REVISION', 'KEYS', 'SIZE', 'VERIFIED'], ...rows.map((r) => [path.basename(r.file), r.node, r.time, String(r.revision), String(r.keys), size(r.size), r.verified ? 'yes' : `NO: ${r.problems.join('; ')}`])]))
    return rows
  }
}
