/**
 * Split a command line into argv the way a POSIX shell splits words, without running a shell:
 * whitespace separates words, 'single quotes' are literal, "double quotes" allow \" \\ \$ \`, and a
 * backslash outside quotes escapes the next character. Anything a shell would interpret (pipes,
 * redirections, `;`, `&`, `$VAR`, backticks, globs are fine as plain text) is refused, so a user
 * never believes a pipe ran when it did not.
 */
export type SplitResult = {argv: string[]; ok: true} | {error: string; ok: false}

const OPERATORS = new Set(['|', '&', ';', '<', '>', '(', ')', '`', '$'])

export function splitCommandLine(line: string): SplitResult {
  const argv: string[] = []
  let word = ''
  let inWord = false
  let i = 0
  while (i < line.length) {
    const c = line[i]!
    if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) argv.push(word)
      word = ''
      inWord = false
      i++
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1)
      if (end === -1) return {error: 'unterminated single quote', ok: false}
      word += line.slice(i + 1, end)
      inWord = true
      i = end + 1
    } else if (c === '"') {
      i++
      let closed = false
      while (i < line.length) {
        const d = line[i]!
        if (d === '"') {
          closed = true
          i++
          break
        }

        if (d === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) {
          word += line[i + 1]
          i += 2
        } else if (d === '$' || d === '`') {
          return {error: `"${d}" inside double quotes would be expanded by a shell; kp runs no shell: escape it or use single quotes`, ok: false}
        } else {
          word += d
          i++
        }
      }

      if (!closed) return {error: 'unterminated double quote', ok: false}
      inWord = true
    } else if (c === '\\') {
      if (i + 1 >= line.length) return {error: 'trailing backslash', ok: false}
      word += line[i + 1]
      inWord = true
      i += 2
    } else if (OPERATORS.has(c)) {
      return {
        error: `"${c}" would be interpreted by a shell, but kp runs the command without one (no pipes, redirections or variables): quote it, or put the pipeline in a script`,
        ok: false,
      }
    } else {
      word += c
      inWord = true
      i++
    }
  }

  if (inWord) argv.push(word)
  if (argv.length === 0) return {error: 'the command is empty', ok: false}
  return {argv, ok: true}
}
