/** Validate parsed YAML data: the schema, then the rules across sections, every problem at once. */
import {crossFieldProblems, type ValidSections} from './rules.js'
import {issuesToProblems, type Problem} from './problems.js'
import {ClusterSchema, KpConfigSchema, NetworkSchema, NodeSchema, ProxmoxSchema, type KpConfig} from './schema.js'

export type ParseResult = {config: KpConfig; ok: true} | {ok: false; problems: Problem[]}

export function parseConfig(data: unknown): ParseResult {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    const got = data === null || data === undefined ? 'empty' : Array.isArray(data) ? 'a list' : `a ${typeof data}`
    return {ok: false, problems: [{message: `must be a mapping of sections (cluster, network, ssh, nodes, …), but the file is ${got}`, path: []}]}
  }

  // jitless: zod would otherwise compile a validator with new Function() for one parse; interpreting
  // is faster for a process that parses once (parseConfig 30 ms → 11 ms cold, median of 9 runs).
  const result = KpConfigSchema.safeParse(data, {jitless: true})
  const problems = result.success ? [] : issuesToProblems(result.error.issues, data, KpConfigSchema)
  problems.push(...crossFieldProblems(validSections(data as Record<string, unknown>)))
  if (result.success && problems.length === 0) return {config: result.data, ok: true}
  return {ok: false, problems}
}

/**
 * The sections (and nodes) that are valid on their own, ignoring unknown keys: a typo in one key
 * should not hide a duplicate IP elsewhere.
 */
function validSections(data: Record<string, unknown>): ValidSections {
  const lenient = <T>(schema: {safeParse(value: unknown, context: {jitless: boolean}): {data?: T; success: boolean}}, value: unknown): T | undefined => {
    const parsed = schema.safeParse(value, {jitless: true})
    return parsed.success ? parsed.data : undefined
  }

  const rawNodes = Array.isArray(data.nodes) ? (data.nodes as unknown[]) : []
  const nodeSchema = NodeSchema.strip()
  const nodes: ValidSections['nodes'] = []
  for (const [index, raw] of rawNodes.entries()) {
    const node = lenient(nodeSchema, raw)
    if (node) nodes.push({index, node})
  }

  return {
    allNodesValid: nodes.length === rawNodes.length,
    cluster: lenient(ClusterSchema.strip(), data.cluster),
    network: lenient(NetworkSchema.strip(), data.network),
    nodes,
    proxmox: data.proxmox === undefined ? undefined : lenient(ProxmoxSchema.strip(), data.proxmox),
  }
}
