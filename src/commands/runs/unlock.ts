import {BaseCommand} from '../../lib/base-command.js'

export default class RunsUnlock extends BaseCommand<typeof RunsUnlock> {
  static description = 'placeholder'

  async run(): Promise<{unlocked: boolean}> {
    return {unlocked: false}
  }
}
