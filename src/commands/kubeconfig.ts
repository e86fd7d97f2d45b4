import {Flags} from '@oclif/core'

import {BaseCommand} from '../lib/base-command.js'
import type {KubeconfigResult} from '../lib/kubeconfig/index.js'

export default class Kubeconfig extends BaseCommand<typeof Kubeconfig> {
  static description = `Show where the cluster's admin kubeconfig is, or merge it into your own kubeconfig.
The admin kubeconfig is kp.yaml's cluster.kubeconfig, else the one kp bootstrap fetched into <state-dir>/clusters/<cluster>/admin.conf.
--merge adds it to your kubeconfig ($KUBECONFIG's first file, else ~/.kube/config) as cluster kp-<cluster>, user kp-<cluster>-admin and context kp-<cluster>. Entries of those names are replaced; every other entry, preference, extension and comment is kept. The current context changes only with --use-context, or when the file had none. The file is replaced atomically, mode 0600; a file that is not a kubeconfig is refused and left untouched.`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --merge',
    '<%= config.bin %> <%= command.id %> --merge --use-context',
    '<%= config.bin %> <%= command.id %> --merge --kubeconfig ~/.kube/homelab.yaml',
  ]

  static flags = {
    kubeconfig: Flags.string({dependsOn: ['merge'], description: 'With --merge: the kubeconfig to merge into [default: the first file in $KUBECONFIG, then ~/.kube/config].'}),
    merge: Flags.boolean({description: 'Merge the admin kubeconfig into your kubeconfig as context kp-<cluster>.'}),
    'use-context': Flags.boolean({dependsOn: ['merge'], description: 'With --merge: also make kp-<cluster> the current context.'}),
  }

  async run(): Promise<KubeconfigResult> {
    const [{loadConfig}, {kubeconfigOf}, kc] = await Promise.all([import('../lib/config/load.js'), import('../lib/kube/from-config.js'), import('../lib/kubeconfig/index.js')])
    const loaded = await loadConfig(this.configPath)
    const source = {cluster: loaded.config.cluster.name, configured: loaded.config.cluster.kubeconfig !== undefined, file: kubeconfigOf(loaded, this.stateDir)}
    const dryRun = this.flags['dry-run']
    const result = this.flags.merge
      ? await kc.mergeAdminKubeconfig(source, {dryRun, target: kc.userKubeconfigPath(this.flags.kubeconfig), useContext: this.flags['use-context']})
      : await kc.showAdminKubeconfig(source)
    this.log(kc.formatKubeconfigResult(result, {dryRun}))
    return result
  }
}
