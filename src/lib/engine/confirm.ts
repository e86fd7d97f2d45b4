import {RefusedError} from '../errors.js'

export interface ConfirmOptions {
  interactive: boolean
  yes: boolean
}

/** Refuse before doing anything when nobody can answer: cron and CI must pass --yes on purpose. */
export function assertCanConfirm(what: string, {interactive, yes}: ConfirmOptions, hint = 'Check the plan with --dry-run, then run again with --yes.'): void {
  if (yes || interactive) return
  throw new RefusedError(`${what} needs confirmation, and there is no terminal to ask on.`, {hint})
}

/** Ask once. False means the operator said no. */
export async function confirm(message: string, {interactive, yes}: ConfirmOptions): Promise<boolean> {
  if (yes) return true
  assertCanConfirm('This run', {interactive, yes})
  const {confirm: ask} = await import('@inquirer/prompts')
  return ask({default: false, message})
}
