export type RendererChoice = 'default' | 'silent' | 'verbose'

export interface RendererInputs {
  /** `--json`: the envelope is the only output. */
  json: boolean
  /** stdout is a terminal. */
  tty: boolean
  verbose: boolean
}

/**
 * The interactive task list only where a person watches a terminal; timestamped lines for cron,
 * CI, pipes and --verbose (they survive in log files); nothing besides the envelope for --json.
 */
export function chooseRenderer({json, tty, verbose}: RendererInputs): RendererChoice {
  if (json) return 'silent'
  if (verbose || !tty) return 'verbose'
  return 'default'
}
