/**
 * Commands reach the remote side as one string that sshd hands to the user's login shell, so argv
 * words must be quoted for a POSIX shell. Single quotes keep everything literal ($, `, \, spaces);
 * only a single quote itself needs the '\'' dance.
 */

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/

export function shellQuote(word: string): string {
  if (SAFE.test(word)) return word
  return `'${word.replaceAll("'", `'\\''`)}'`
}

export function commandLine(command: string | readonly string[]): string {
  return typeof command === 'string' ? command : command.map((w) => shellQuote(w)).join(' ')
}

/**
 * As root through `sudo -n` (never prompt: a prompt would hang an unattended run). The command line
 * goes through `sh -c` so pipes and redirections in it run as root too, not just its first word.
 */
export function asRoot(line: string, user: string): string {
  if (user === 'root') return line
  return `sudo -n -- sh -c ${shellQuote(line)}`
}

/** What sudo -n prints when it would have asked for a password (sudo 1.8 to 1.9). */
export function sudoWantsPassword(stderr: string): boolean {
  return /^sudo: (a password is required|a terminal is required to read the password|no tty present and no askpass program specified)/m.test(stderr)
}
