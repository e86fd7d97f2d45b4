import {Flags} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import {launch} from '../../lib/engine/launch.js'
import type {Plan} from '../../lib/engine/plan.js'
import {describeRun} from '../../lib/engine/report.js'
import type {RunResult} from '../../lib/engine/runner.js'
import {builtIn as workflows} from '../../lib/workflows/index.js'

export default class NodePatch extends BaseCommand<typeof NodePatch> {
  static description = `Apply the OS updates (apt-get upgrade) to the nodes, one node at a time: workers first, then the control planes one by one.
Per node: check the cluster (API, every other node Ready, etcd quorum) and what the node needs; a Proxmox snapshot of its VM (maintenance.snapshotBeforeMaintenance); drain; upgrade with the Kubernetes packages held and checked; reboot when /var/run/reboot-required says so (or --reboot); uncordon if it was schedulable, and wait for the workloads before the next node. A node with nothing to do is left alone, so a second run changes nothing. Exit 5 when --not-after stopped it. Runbook: runbooks/node-patch.md.`

  static examples = [
    '<%= config.bin %> <%= command.id %> --all --dry-run',
    '<%= config.bin %> <%= command.id %> --all --not-after 06:00',
    '<%= config.bin %> <%= command.id %> w1 w2 --reboot never --no-snapshot',
  ]

  static flags = {
    all: Flags.boolean({description: 'Every node of kp.yaml.'}),
    'control-planes-first': Flags.boolean({description: 'Patch the control planes (one at a time) before the workers.'}),
    'delete-emptydir-data': Flags.boolean({description: "The drain also evicts pods with emptyDir volumes; their data is lost."}),
    'dist-upgrade': Flags.boolean({description: 'apt-get dist-upgrade: also install new dependencies and remove obsolete ones.'}),
    force: Flags.boolean({description: 'The drain also deletes pods no controller re-creates.'}),
    'grace-period': Flags.integer({description: "Seconds each evicted pod gets to terminate [default: maintenance.gracePeriod, else the pod's own].", min: 0}),
    'lock-timeout': Flags.integer({default: 120, description: 'Seconds to wait for a dpkg lock another process holds before failing, naming it.', min: 0}),
    'not-after': Flags.string({description: 'Start no node after this time (e.g. 2026-12-07T06:00:00+01:00): the node in progress is finished, then kp stops with exit 5.'}),
    reboot: Flags.string({description: 'When to reboot a node [default: maintenance.rebootPolicy].', options: ['if-required', 'always', 'never']}),
    snapshot: Flags.boolean({allowNo: true, description: 'Take a Proxmox snapshot of each VM first (--no-snapshot: none) [default: maintenance.snapshotBeforeMaintenance].'}),
    timeout: Flags.string({description: 'How long each drain may take, e.g. 90s or 10m [default: maintenance.drainTimeout].'}),
  }

  static strict = false
  static usage = '<%= command.id %> [NODE…|--all] [flags]'

  async run(): Promise<Plan | RunResult> {
    const {argv, flags} = await this.parse(NodePatch)
    const result = await launch(this.launchContext(), {
      params: {
        all: flags.all,
        controlPlanesFirst: flags['control-planes-first'],
        deleteEmptydirData: flags['delete-emptydir-data'],
        distUpgrade: flags['dist-upgrade'],
        force: flags.force,
        gracePeriod: flags['grace-period'],
        lockTimeout: flags['lock-timeout'],
        nodes: argv,
        notAfter: flags['not-after'] === undefined ? undefined : notAfter(flags['not-after']),
        reboot: flags.reboot,
        snapshot: flags.snapshot,
        timeout: flags.timeout,
      },
      workflow: workflows['node-patch'],
    })
    if (!('dryRun' in result)) this.log(describeRun(result))
    return result
  }
}

/**
 * A bare time of day (`06:00`) means its next occurrence on this machine's clock; anything else is
 * kept as written for the workflow to parse. Resolved here, once, so a resume keeps the same instant.
 */
function notAfter(value: string): string {
  const m = /^(\d{1,2}):(\d{2})$/.exec(value.trim())
  if (!m) return value
  const at = new Date()
  at.setHours(Number(m[1]), Number(m[2]), 0, 0)
  if (at.getTime() <= Date.now()) at.setDate(at.getDate() + 1)
  return at.toISOString()
}
