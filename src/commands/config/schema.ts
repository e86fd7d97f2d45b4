import {BaseCommand} from '../../lib/base-command.js'

export default class ConfigSchema extends BaseCommand<typeof ConfigSchema> {
  static description = `Print the JSON Schema (draft 2020-12) of kp.yaml, with a description of every key.

Editors that use yaml-language-server complete and check kp.yaml with it through the modeline "kp config init" writes.`

  static examples = ['<%= config.bin %> <%= command.id %> > kp.schema.json', '<%= config.bin %> <%= command.id %> --json']

  async run(): Promise<Record<string, unknown>> {
    const {configJsonSchema} = await import('../../lib/config/json-schema.js')
    const schema = configJsonSchema()
    this.log(JSON.stringify(schema, null, 2))
    return schema
  }
}
