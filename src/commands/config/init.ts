import {existsSync} from 'node:fs'
import path from 'node:path'

import {Flags} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import type {InitResult} from '../../lib/config/init.js'
import {INIT_FIELDS, type Answers} from '../../lib/config/init-fields.js'
import {RefusedError} from '../../lib/errors.js'

// One flag per question; the questions (lib/config/init-fields.ts) say what each one fills in.
const questionFlags = Object.fromEntries(
  INIT_FIELDS.map((field) => {
    const fallback = field.defaultHelp ?? field.default?.({})
    const description = `${field.message.replace(/ \(empty: [^)]*\)$/, '')}.${fallback === undefined ? '' : ` [default: ${fallback}]`}`
    const helpGroup = field.proxmox ? 'PROXMOX' : 'CLUSTER'
    return [field.flag, field.kind === 'int' ? Flags.integer({description, helpGroup}) : Flags.string({description, helpGroup})]
  }),
)

export default class ConfigInit extends BaseCommand<typeof ConfigInit> {
  static description = `Create kp.yaml, asking on a terminal for what the flags do not say.

Without a terminal every answer comes from flags, and the command fails naming the flags it still needs. Writes kp.schema.json next to the file; the file's first line points editors at it. Refuses to replace an existing file without --force.`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --name homelab --kubernetes-version 1.31.4 --gateway 10.0.10.1 --first-ip 10.0.10.11 --first-vmid 201 --ssh-user debian --control-planes 1 --workers 2 --output ./kp.yaml',
    '<%= config.bin %> <%= command.id %> --name homelab --kubernetes-version 1.31.4 --gateway 10.0.10.1 --first-ip 10.0.10.11 --first-vmid 201 --ssh-user debian --proxmox-endpoint https://pve.example.lan:8006 --pve-node pve --token-id kp@pve!kp --template-vmid 9000',
  ]

  static flags = {
    ...questionFlags,
    force: Flags.boolean({description: 'Replace an existing file.'}),
    output: Flags.string({char: 'o', description: 'Where to write kp.yaml [default: --config, $KP_CONFIG, then ./kp.yaml].'}),
  }

  async run(): Promise<InitResult> {
    const {buildConfig, collectAnswers, inquirerAsker, writeInitFiles} = await import('../../lib/config/init.js')
    const output = this.flags.output ? path.resolve(this.flags.output) : this.configPath
    // Before any question: a refusal after twenty answers would waste them.
    if (existsSync(output) && !this.flags.force && !this.flags['dry-run']) {
      throw new RefusedError(`${output} already exists`, {hint: 'Pass --force to replace it, or --output to write elsewhere.'})
    }

    const flags = this.flags as unknown as Answers
    const given = Object.fromEntries(INIT_FIELDS.map((f) => [f.flag, flags[f.flag]]))
    const answers = await collectAnswers(given, this.interactive ? await inquirerAsker() : undefined)
    const result = await writeInitFiles(output, buildConfig(answers), {dryRun: this.flags['dry-run'], force: this.flags.force})
    if (result.content !== undefined) {
      this.log(result.content)
      return result
    }

    this.log(`Wrote ${result.path} (${result.controlPlanes} control plane${result.controlPlanes === 1 ? '' : 's'}, ${result.workers} worker${result.workers === 1 ? '' : 's'}) and ${result.schemaPath}.`)
    const secretEnv = result.proxmox ? String(answers['token-secret-env']) : undefined
    this.log('Next:')
    if (secretEnv) this.log(`  export ${secretEnv}=…            # the Proxmox API token secret`)
    this.log(`  kp config validate -c ${result.path}`)
    return result
  }
}
