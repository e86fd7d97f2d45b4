/**
 * What etcdctl 3.4 prints with `-w json` (test/fixtures/etcd/ holds real output). Member and
 * cluster ids are uint64 written as bare JSON numbers, past what a JS number holds exactly, so they
 * are quoted before parsing and kept as the hex etcdctl's tables show (`bdae9bbc11dd390d`).
 */

export interface EtcdMember {
  /** Hex, as `etcdctl member list -w table` prints it. */
  id: string
  /** Empty for a member added but never started. */
  name: string
  peerUrls: string[]
  clientUrls: string[]
  isLearner: boolean
}

export interface EndpointStatus {
  endpoint: string
  memberId: string
  clusterId: string
  leader: string
  version: string
  dbSize: number
  dbSizeInUse: number
  raftIndex: number
  raftAppliedIndex: number
  raftTerm: number
  revision: number
  errors: string[]
}

export interface SnapshotStatus {
  hash: number
  revision: number
  totalKey: number
  totalSize: number
}

export class EtcdOutputError extends Error {}

/** A uint64 id as etcd's hex, from a quoted decimal (or a small number). */
function hexId(value: unknown, what: string): string {
  if (typeof value !== 'string' && typeof value !== 'number') throw new EtcdOutputError(`${what} is not an id`)
  return BigInt(value).toString(16)
}

function parseJson(text: string, what: string): unknown {
  // Quote every integer of 16 digits or more: only ids are that long, and quoting keeps their bits.
  const quoted = text.replaceAll(/([:[,]\s*)(\d{16,})(?=\s*[,\]}])/g, '$1"$2"')
  try {
    return JSON.parse(quoted) as unknown
  } catch {
    throw new EtcdOutputError(`${what}: etcdctl did not print JSON: ${JSON.stringify(text.slice(0, 200))}`)
  }
}

const object = (value: unknown, what: string): Record<string, unknown> => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new EtcdOutputError(`${what} is not an object`)
  return value as Record<string, unknown>
}

const num = (value: unknown, what: string): number => {
  const n = typeof value === 'string' ? Number(value) : value
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new EtcdOutputError(`${what} is not a number`)
  return n
}

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [])

/** `etcdctl member list -w json`. */
export function parseMemberList(text: string): EtcdMember[] {
  const doc = object(parseJson(text, 'member list'), 'member list')
  if (!Array.isArray(doc.members)) throw new EtcdOutputError('member list has no members')
  return doc.members.map((m, i) => {
    const member = object(m, `member ${i}`)
    return {
      clientUrls: strings(member.clientURLs),
      id: hexId(member.ID, `member ${i}'s ID`),
      isLearner: member.isLearner === true,
      name: typeof member.name === 'string' ? member.name : '',
      peerUrls: strings(member.peerURLs),
    }
  })
}

/** `etcdctl endpoint status -w json` with one endpoint: its status. */
export function parseEndpointStatus(text: string): EndpointStatus {
  const doc = parseJson(text, 'endpoint status')
  if (!Array.isArray(doc) || doc.length === 0) throw new EtcdOutputError('endpoint status printed no endpoint')
  const entry = object(doc[0], 'endpoint status')
  const status = object(entry.Status, 'endpoint status')
  const header = object(status.header, 'endpoint status header')
  return {
    clusterId: hexId(header.cluster_id, 'cluster_id'),
    dbSize: num(status.dbSize, 'dbSize'),
    dbSizeInUse: num(status.dbSizeInUse ?? status.dbSize, 'dbSizeInUse'),
    endpoint: typeof entry.Endpoint === 'string' ? entry.Endpoint : '',
    errors: strings(status.errors),
    // Omitted (Go's omitempty of 0) while the member has no leader: quorum lost, or an election running.
    leader: status.leader === undefined ? '0' : hexId(status.leader, 'leader'),
    memberId: hexId(header.member_id, 'member_id'),
    raftAppliedIndex: num(status.raftAppliedIndex ?? status.raftIndex, 'raftAppliedIndex'),
    raftIndex: num(status.raftIndex, 'raftIndex'),
    raftTerm: num(status.raftTerm, 'raftTerm'),
    revision: num(header.revision, 'revision'),
    version: typeof status.version === 'string' ? status.version : '',
  }
}

/** `etcdctl snapshot status FILE -w json`. */
export function parseSnapshotStatus(text: string): SnapshotStatus {
  const doc = object(parseJson(text, 'snapshot status'), 'snapshot status')
  return {hash: num(doc.hash, 'hash'), revision: num(doc.revision, 'revision'), totalKey: num(doc.totalKey, 'totalKey'), totalSize: num(doc.totalSize, 'totalSize')}
}

export interface EndpointHealth {
  health: boolean
  error?: string
}

/** `etcdctl endpoint health -w json` with one endpoint (printed also when unhealthy, with exit 1). */
export function parseEndpointHealth(text: string): EndpointHealth {
  const doc = parseJson(text, 'endpoint health')
  if (!Array.isArray(doc) || doc.length === 0) throw new EtcdOutputError('endpoint health printed no endpoint')
  const entry = object(doc[0], 'endpoint health')
  return {health: entry.health === true, ...(typeof entry.error === 'string' && entry.error ? {error: entry.error} : {})}
}

export interface EtcdAlarm {
  /** Hex, as in the member list. */
  memberId: string
  /** NOSPACE (the DB reached its quota: writes refused), CORRUPT (a member's data differs). */
  alarm: string
}

/**
 * `etcdctl alarm list` (the table form: its JSON gives the alarm as a bare enum number), also the
 * form the alarms take in endpoint status's `errors`: `memberID:11719934994822390420 alarm:NOSPACE`.
 */
export function parseAlarms(text: string): EtcdAlarm[] {
  return [...text.matchAll(/memberID:(\d+)\s+alarm:([A-Z_]+)/g)].map((m) => ({alarm: m[2]!, memberId: BigInt(m[1]!).toString(16)}))
}
