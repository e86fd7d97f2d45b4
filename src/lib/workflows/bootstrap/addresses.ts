/**
 * Check the node addresses are free: a node whose VM does not exist yet must not find its IP
 * already answering (another machine would fight the new VM for it), and before the first
 * control plane exists nothing may answer at the control-plane endpoint (another cluster is there).
 * Nodes whose VMs kp already made (a resumed or repeated run) are expected to answer.
 */
import {isIP} from 'node:net'

import {endpointParts} from '../../config/net.js'
import {RefusedError} from '../../errors.js'
import type {Step} from '../../engine/types.js'
import type {BootstrapFacts, BootstrapParams} from './facts.js'

export const checkAddresses: Step<BootstrapFacts, BootstrapParams> = {
  gathersFacts: true,
  id: 'addresses',
  title: 'Check the node addresses are free',
  async run(ctx) {
    const {config} = ctx.config
    const fresh = ctx.facts.nodes.filter((n) => !ctx.facts.vms[n.name]?.config)
    const {host, port} = endpointParts(config.cluster.controlPlaneEndpoint)
    const nodeIps = new Set(config.nodes.map((n) => n.ip))
    // The endpoint is probed only while no VM of the cluster exists: afterwards it is ours.
    const probeEndpoint = fresh.length === config.nodes.length && isIP(host) !== 0 && !nodeIps.has(host)
    if (fresh.length === 0 && !probeEndpoint) {
      ctx.log('every VM exists already: no address to check')
      return
    }

    const {probeAddresses} = await import('../../preflight/index.js')
    const problems: string[] = []
    const found = await probeAddresses(fresh.map((n) => n.ip))
    for (const probe of found) {
      const node = fresh.find((n) => n.ip === probe.ip)!
      if (probe.inUse) problems.push(`${probe.ip} (${node.name}) is already in use${probe.how ? ` (${probe.how})` : ''}`)
    }

    if (probeEndpoint) {
      const [endpoint] = await probeAddresses([host], {ports: [port]})
      // A load balancer or the host of a VIP may well answer with a refusal; only a server
      // already listening on the API port means another cluster (or service) is there.
      if (endpoint?.listening) problems.push(`something already answers at the control-plane endpoint ${host}:${port}${endpoint.how ? ` (${endpoint.how})` : ''}: another cluster or machine has it`)
    }

    if (problems.length > 0) {
      throw new RefusedError(`${problems.join('; ')}; nothing was changed`, {hint: 'give the nodes (or the endpoint) free addresses in kp.yaml, or find what uses them'})
    }

    ctx.log(`free: ${fresh.map((n) => `${n.name} ${n.ip}`).join(', ') || 'no new node'}${probeEndpoint ? `; endpoint ${host}:${port}` : ''}`)
  },
}
