import path from 'node:path'

import {Flags} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import {launch} from '../../lib/engine/launch.js'
import type {Plan} from '../../lib/engine/plan.js'
import {describeRun} from '../../lib/engine/report.js'
import type {RunResult} from '../../lib/engine/runner.js'
import {builtIn as workflows} from '../../lib/workflows/index.js'

export default class BackupEtcd extends BaseCommand<typeof BackupEtcd> {
  static description = `Take an etcd snapshot on a healthy member and keep it on this machine, verified.
kp runs etcdctl inside the node's etcd container (crictl exec, with kubeadm's healthcheck-client certificate), saves the snapshot under /var/lib/etcd, checks it there (snapshot status, sha256sum), copies it over SSH with its SHA-256 checked end to end, writes it atomically (0600) as <state-dir>/clusters/<cluster>/backups/<UTC time>-<node>.db with a JSON sidecar, removes the node's copy, and keeps the newest --keep backups it wrote. A member on a cordoned node is skipped. Runbook: runbooks/etcd-backup.md.`

  static examples = [
    '<%= config.bin %> <%= command.id %> --dry-run',
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --node cp2 --keep 30',
    '<%= config.bin %> <%= command.id %> --output /mnt/backups/etcd',
  ]

  static flags = {
    'accept-new-host-keys': Flags.boolean({description: 'Pin SSH host keys kp has not seen (kp vm seed pins them through the guest agent; prefer that).'}),
    keep: Flags.integer({description: 'Keep the newest N backups kp wrote in the folder [default: backup.keep, 10].', min: 1}),
    node: Flags.string({description: 'Take the snapshot from the member on this control plane (even if it is cordoned).'}),
    output: Flags.string({description: 'Write the backup to this folder instead of <state-dir>/clusters/<cluster>/backups.'}),
  }

  async run(): Promise<Plan | RunResult> {
    const {flags} = await this.parse(BackupEtcd)
    const result = await launch(this.launchContext(), {
      acceptNewHostKeys: flags['accept-new-host-keys'],
      params: {keep: flags.keep, node: flags.node, output: flags.output === undefined ? undefined : path.resolve(flags.output)},
      workflow: workflows['etcd-backup'],
    })
    if (!('dryRun' in result)) this.log(describeRun(result))
    return result
  }
}
