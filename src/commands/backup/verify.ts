import {Args} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import type {Verification} from '../../lib/etcd/backups.js'

export default class BackupVerify extends BaseCommand<typeof BackupVerify> {
  static args = {file: Args.string({description: 'The backup (.db) to check.', required: true})}
  static description = `Check an etcd backup on this machine, without etcd: its SHA-256 against the sidecar kp wrote, the SHA-256 etcd appended to the snapshot (what "etcdctl snapshot restore" checks), and bolt's two meta pages (magic, version, checksum).
Exit 0 when sound; exit 1 naming the file and what is wrong when its bytes changed or it is not a snapshot.`

  static examples = ['<%= config.bin %> <%= command.id %> ~/.local/state/kp/clusters/homelab/backups/20261206T075600Z-cp1.db']

  async run(): Promise<Verification & {file: string}> {
    const {args} = await this.parse(BackupVerify)
    const {verifyFile} = await import('../../lib/etcd/backups.js')
    const result = await verifyFile(args.file)
    this.log(`${result.file}: OK (SHA-256 ${result.sha256}, as its sidecar says; etcd's hash and bolt's meta pages sound)`)
    return result
  }
}
