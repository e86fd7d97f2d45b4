/**
 * A problem is one thing wrong with kp.yaml, at a key path. Zod's issues are turned into problems
 * here with messages an operator can act on, without ever echoing a value from the file (a secret
 * pasted into the wrong key must not end up in a terminal or a log).
 */
import {z} from 'zod'

export type PathSegment = number | string

export interface Problem {
  message: string
  path: PathSegment[]
  /** Point at the key rather than its value (unknown and duplicate keys). */
  atKey?: boolean
}

/** `nodes[2].ip`, `proxmox.tokenSecret.env`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = ''
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment)) out += out === '' ? segment : `.${segment}`
    else out += `[${JSON.stringify(segment)}]`
  }

  return out
}

export function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let current = data
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined
    current = (current as Record<PathSegment, unknown>)[segment]
  }

  return current
}

/** The schema that validates the value at `path`, looking through optional, default and pipes. */
export function schemaAt(schema: z.ZodType, path: readonly PathSegment[]): z.ZodType | undefined {
  let current: z.ZodType | undefined = unwrap(schema)
  for (const segment of path) {
    if (current instanceof z.ZodObject && typeof segment === 'string') current = unwrap((current.shape as Record<string, z.ZodType>)[segment])
    else if (current instanceof z.ZodArray && typeof segment === 'number') current = unwrap(current.element as z.ZodType)
    else return undefined
  }

  return current
}

function unwrap(schema: z.ZodType | undefined): z.ZodType | undefined {
  let current = schema
  for (;;) {
    if (current instanceof z.ZodOptional || current instanceof z.ZodDefault || current instanceof z.ZodPrefault || current instanceof z.ZodNullable) {
      current = current.unwrap() as z.ZodType
    } else if (current instanceof z.ZodPipe) {
      current = current.in as z.ZodType
    } else {
      return current
    }
  }
}

/**
 * Turn zod's issues into problems, one per thing to fix. `root` is the schema that parsed `data`;
 * `base` is where `data` sits in the file.
 */
export function issuesToProblems(issues: readonly z.core.$ZodIssue[], data: unknown, root: z.ZodType, base: PathSegment[] = []): Problem[] {
  const problems: Problem[] = []
  for (const issue of issues) {
    const relative = issue.path as PathSegment[]
    const path = [...base, ...relative]
    const value = valueAt(data, relative)
    switch (issue.code) {
      case 'unrecognized_keys': {
        const known = knownKeys(schemaAt(root, relative))
        for (const key of issue.keys) {
          const guess = suggest(key, known)
          problems.push({atKey: true, message: `unknown key${guess ? ` (did you mean "${guess}"?)` : ''}`, path: [...path, key]})
        }

        break
      }

      case 'invalid_union': {
        // A secret source: if exactly one branch's key was used, its own issues say what is wrong.
        const union = schemaAt(root, relative)
        const matched = issue.errors.flatMap((branch, index) => (branch.some((i) => i.code === 'unrecognized_keys') ? [] : [index]))
        const option = union instanceof z.ZodUnion && matched.length === 1 ? (union.options as z.ZodType[])[matched[0]!] : undefined
        if (value !== undefined && option) problems.push(...issuesToProblems(issue.errors[matched[0]!]!, value, option, path))
        else problems.push({message: issue.message, path})
        break
      }

      case 'invalid_type': {
        problems.push({message: value === undefined ? missingMessage(path, issue.message) : typeMessage(issue, value), path})
        break
      }

      case 'too_small':
      case 'too_big': {
        problems.push({message: isDefaultMessage(issue.message) ? rangeMessage(issue) : issue.message, path})
        break
      }

      default: {
        problems.push({message: isDefaultMessage(issue.message) ? `is not valid (${issue.message})` : issue.message, path})
      }
    }
  }

  return problems
}

function missingMessage(path: PathSegment[], message: string): string {
  if (!isDefaultMessage(message)) return message.startsWith('required') ? message : `required key is missing (${message})`
  return path.length === 1 ? 'required section is missing' : 'required key is missing'
}

function typeMessage(issue: z.core.$ZodIssueInvalidType, value: unknown): string {
  const got = describeType(value)
  if (!isDefaultMessage(issue.message)) return `${issue.message}, not ${got}`
  const names: Record<string, string> = {array: 'a list', boolean: 'true or false', int: 'a whole number', number: 'a number', object: 'a mapping of keys', string: 'a string'}
  const expected = names[String(issue.expected)] ?? String(issue.expected)
  return `must be ${expected}, not ${got}`
}

function describeType(value: unknown): string {
  if (value === null) return 'empty (null)'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  if (typeof value === 'number') return Number.isInteger(value) ? 'a whole number' : 'a number'
  if (typeof value === 'boolean') return 'true/false'
  return `a ${typeof value}`
}

function rangeMessage(issue: z.core.$ZodIssueTooBig | z.core.$ZodIssueTooSmall): string {
  const small = issue.code === 'too_small'
  const limit = Number(issue.code === 'too_small' ? issue.minimum : issue.maximum)
  const inclusive = issue.inclusive !== false
  switch (issue.origin) {
    case 'array': {
      return small ? `needs at least ${limit} entr${limit === 1 ? 'y' : 'ies'}` : `has more than ${limit} entries`
    }

    case 'string': {
      return small ? (limit <= 1 ? 'must not be empty' : `must be at least ${limit} characters`) : `must be at most ${limit} characters`
    }

    default: {
      if (small) return inclusive ? `must be at least ${limit}` : `must be more than ${limit}`
      return inclusive ? `must be at most ${limit}` : `must be less than ${limit}`
    }
  }
}

/** Zod's own English messages start like this; ours never do. */
function isDefaultMessage(message: string): boolean {
  return /^(Invalid|Too (small|big)|Unrecognized)/.test(message)
}

function knownKeys(schema: z.ZodType | undefined): string[] {
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : []
}

/** The known key closest to a misspelt one, if it is close enough to be a likely typo. */
export function suggest(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase()
  let best: {distance: number; key: string} | undefined
  for (const candidate of known) {
    const c = candidate.toLowerCase()
    const prefix = Math.min(c.length, lower.length) >= 3 && (c.startsWith(lower) || lower.startsWith(c))
    const distance = c === lower ? 0 : prefix ? 1 : levenshtein(lower, c)
    if (distance <= Math.max(2, Math.floor(candidate.length / 4)) && (!best || distance < best.distance)) best = {distance, key: candidate}
  }

  return best?.key
}

function levenshtein(a: string, b: string): number {
  let previous = Array.from({length: b.length + 1}, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }

    previous = current
  }

  return previous[b.length]!
}
