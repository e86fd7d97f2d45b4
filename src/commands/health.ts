import {Flags} from '@oclif/core'

import {BaseCommand, formatError} from '../lib/base-command.js'
import {KpError} from '../lib/errors.js'
import {CHECK_NAMES, OUTPUTS} from '../lib/health/names.js'
import {EXIT_CODE, worst} from '../lib/health/status.js'
import {parseTimeout} from '../lib/health/timeout.js'
import type {HealthReport} from '../lib/health/types.js'

export default class Health extends BaseCommand<typeof Health> {
  static description = `Read-only checks of the cluster for cron or a systemd timer: the API server, etcd, nodes, kube-system pods, workloads, PodDisruptionBudgets, pending CSRs, the API server's certificate, and the Proxmox VMs; with --deep, over SSH, every certificate on disk and served (certificates) and each node's reboot, packages, disks and kubelet (node-state).
Checks run at once under one deadline; one that has not answered by then is UNKNOWN (api and proxmox: CRITICAL, since an API that does not answer is down).
Exit codes follow Nagios, unlike other kp commands: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (also when kp.yaml cannot be used), the worst check wins (CRITICAL > UNKNOWN > WARNING); 2 also for a usage error. Never prompts, takes no lock.`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --check nodes,pdbs',
    '<%= config.bin %> <%= command.id %> --deep --check etcd',
    '<%= config.bin %> <%= command.id %> --output prometheus --prometheus-file /var/lib/node_exporter/textfile_collector/kp.prom --timeout 30s',
    '<%= config.bin %> <%= command.id %> --output json',
  ]

  static flags = {
    // A comma list as kubectl takes (api,nodes), the flag repeated, or both.
    check: Flags.option({delimiter: ',', description: 'Run only these checks: a comma list (api,nodes), or the flag repeated.', multiple: true, options: CHECK_NAMES})(),
    deep: Flags.boolean({description: 'Also look at the nodes over SSH, one connection each, inside the same deadline: etcd members, leader, DB size, alarms (control planes); the certificates and node-state checks (every node). Unknown host keys are refused.'}),
    output: Flags.option({default: 'text' as const, description: 'What to print: aligned lines, a JSON document, or the Prometheus text format. --json prints the same document in kp\'s envelope instead.', options: OUTPUTS})(),
    'prometheus-file': Flags.string({description: 'Also write the Prometheus text format to this file, atomically and mode 0644 (node_exporter textfile collector).'}),
    timeout: Flags.string({default: '20s', description: 'Deadline for the whole run (20s, 1m, or seconds).'}),
  }

  async run(): Promise<HealthReport> {
    const f = this.flags
    const timeoutMs = parseTimeout(f.timeout)
    const [{runHealth}, {formatPrometheus, render}, {writeTextfile}, {stderrColour, stdoutColour}] = await Promise.all([
      import('../lib/health/run.js'),
      import('../lib/health/format/index.js'),
      import('../lib/health/textfile.js'),
      import('../lib/colour.js'),
    ])
    const stderr = (line: string) => process.stderr.write(`${line}\n`)
    const report = await runHealth({checks: [...new Set(f.check ?? [])], configPath: this.configPath, deep: f.deep, log: f.verbose ? stderr : undefined, stateDir: this.stateDir, timeoutMs, warn: (line) => this.warn(line)})
    let exitCode = report.exitCode
    if (f['prometheus-file']) {
      // Stale metrics would look healthy: a file kp could not write makes the run UNKNOWN at least.
      await writeTextfile(f['prometheus-file'], formatPrometheus(report)).catch((error: Error) => {
        stderr(`Error: could not write ${f['prometheus-file']}: ${error.message}`)
        exitCode = EXIT_CODE[worst([report.status, 'UNKNOWN'])]
      })
    }

    if (report.error && this.jsonEnabled()) throw new KpError('config', EXIT_CODE.UNKNOWN, report.error.message, {hint: report.error.hint})
    if (!this.jsonEnabled()) process.stdout.write(render(report, f.output, {colour: stdoutColour(), verbose: f.verbose}))
    if (report.error) process.stderr.write(formatError({exitCode: EXIT_CODE.UNKNOWN, kind: 'config', message: report.error.message, ...(report.error.hint ? {hint: report.error.hint} : {})}, undefined, stderrColour()))
    process.exitCode = exitCode
    return report
  }
}
