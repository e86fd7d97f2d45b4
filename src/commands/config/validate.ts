import {Flags} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import type {ValidateResult} from '../../lib/config/summary.js'

export default class ConfigValidate extends BaseCommand<typeof ConfigValidate> {
  static description = `Check kp.yaml: YAML syntax, every key, the rules across sections (unique nodes, addresses inside the node network, etcd quorum), that the files it names exist and that its secrets can be read.

Secrets are resolved to check them and never printed. Every problem is listed with its line, column and key path; the exit code is 2 when there is one.`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --config ./clusters/lab.yaml',
    '<%= config.bin %> <%= command.id %> --config ./kp.yaml --skip-secrets --json',
  ]

  static flags = {
    'skip-secrets': Flags.boolean({description: 'Do not read the secrets (for CI, where they are not available).'}),
  }

  async run(): Promise<ValidateResult> {
    const {loadConfig} = await import('../../lib/config/load.js')
    const {summarize} = await import('../../lib/config/summary.js')
    const loaded = await loadConfig(this.configPath, {checkFiles: true, resolveSecrets: !this.flags['skip-secrets']})
    const {lines, result} = summarize(loaded)
    for (const line of lines) this.log(line)
    return result
  }
}
