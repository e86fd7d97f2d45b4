import {BaseCommand} from '../lib/base-command.js'
import {launch} from '../lib/engine/launch.js'
import type {Plan} from '../lib/engine/plan.js'
import {describeRun} from '../lib/engine/report.js'
import type {RunResult} from '../lib/engine/runner.js'
import {builtIn as workflows} from '../lib/workflows/index.js'

export default class Bootstrap extends BaseCommand<typeof Bootstrap> {
  static description = `Build the cluster in kp.yaml from an empty Proxmox host: seed the VMs, prepare the nodes, kubeadm init on the first control plane, fetch the admin kubeconfig, install the pod network, join the other control planes one at a time and the workers in parallel, wait for every node to be Ready, check the cluster's health.
Converges and resumes: what is done is skipped, so after any failure or interruption "kp resume" (or running it again) finishes the job. Join tokens and certificate keys are made when needed and never written to the journal, the log or a command line. Runbook: runbooks/bootstrap.md.`

  static examples = ['<%= config.bin %> <%= command.id %> --dry-run', '<%= config.bin %> <%= command.id %> --yes', 'KP_CONFIG=~/lab/kp.yaml <%= config.bin %> <%= command.id %>']

  async run(): Promise<Plan | RunResult> {
    await this.parse(Bootstrap)
    const result = await launch(this.launchContext(), {params: {}, workflow: workflows.bootstrap})
    if (!('dryRun' in result)) {
      const [{loadConfig}, {kubeconfigOf}] = await Promise.all([import('../lib/config/load.js'), import('../lib/kube/from-config.js')])
      const loaded = await loadConfig(this.configPath)
      this.log(describeRun(result))
      this.log(`
The cluster is up. Its admin kubeconfig (0600): ${kubeconfigOf(loaded, this.stateDir)}
  kp kubeconfig --merge                    # add it to ~/.kube/config as context kp-${loaded.config.cluster.name}
  kubectl --context kp-${loaded.config.cluster.name} get nodes
  kp health                                # the same checks, any time (cron: see the README)`)
    }

    return result
  }
}
