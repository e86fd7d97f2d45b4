/**
 * Colour for kp's human output, through chalk: its levels (none, 16, 256, truecolor) follow the
 * stream and FORCE_COLOR; NO_COLOR (no-color.org), which chalk ignores, turns it off unless
 * FORCE_COLOR asks for it, as in Node itself. Import this module lazily (`await import`) from code
 * that runs at start-up: chalk costs milliseconds that `kp --help` should not pay.
 */
import chalk, {Chalk, type ChalkInstance, chalkStderr} from 'chalk'

/** No colour: for text that is parsed, compared or written to a file. */
export const plain: ChalkInstance = new Chalk({level: 0})

function honourNoColor(instance: ChalkInstance, env: NodeJS.ProcessEnv): ChalkInstance {
  return env.NO_COLOR && !('FORCE_COLOR' in env) ? plain : instance
}

export function stdoutColour(env: NodeJS.ProcessEnv = process.env): ChalkInstance {
  return honourNoColor(chalk, env)
}

export function stderrColour(env: NodeJS.ProcessEnv = process.env): ChalkInstance {
  return honourNoColor(chalkStderr, env)
}
