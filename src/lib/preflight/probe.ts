/**
 * Is an address already taken? A new VM given an address another machine uses fights it over ARP,
 * and the bootstrap fails in confusing ways much later. A TCP connect tells without root (no ICMP):
 * a connection, or a refusal (a TCP reset), means a machine is there; silence until the timeout, or
 * "host/network unreachable" (nobody answered ARP), means the address is free.
 * A firewall that rejects on behalf of absent hosts makes every address look taken; one that drops
 * silently hides a machine whose ports are all filtered. Both are rare on a node network.
 */
import {connect} from 'node:net'

export interface AddressProbe {
  /** How kp decided: "port 22 answers", "port 6443 refused the connection", "no answer on ports 22 and 6443 within 1.5 s". */
  how?: string
  inUse: boolean
  /** A service accepted the connection (not just a machine refusing it). */
  listening?: boolean
  ip: string
}

export interface ProbeOptions {
  /** Default 22 (every node runs sshd) and 6443 (an API server). */
  ports?: number[]
  /** Per connection attempt; all attempts run at once. Default 1500 ms. */
  timeoutMs?: number
}

type Outcome = {kind: 'answers' | 'refused' | 'silent' | 'unreachable'} | {code: string; kind: 'error'}

export async function probeAddresses(ips: string[], options: ProbeOptions = {}): Promise<AddressProbe[]> {
  const ports = options.ports ?? [22, 6443]
  const timeoutMs = options.timeoutMs ?? 1500
  return Promise.all(
    ips.map(async (ip) => {
      const outcomes = await Promise.all(ports.map((port) => tryConnect(ip, port, timeoutMs)))
      return describe(ip, ports, outcomes, timeoutMs)
    }),
  )
}

function describe(ip: string, ports: number[], outcomes: Outcome[], timeoutMs: number): AddressProbe {
  const answered = outcomes.findIndex((o) => o.kind === 'answers')
  if (answered !== -1) return {how: `port ${ports[answered]} answers`, inUse: true, ip, listening: true}
  const refused = outcomes.findIndex((o) => o.kind === 'refused')
  if (refused !== -1) return {how: `port ${ports[refused]} refused the connection: a machine is there`, inUse: true, ip}
  const errors = outcomes.flatMap((o) => (o.kind === 'error' ? [o.code] : []))
  if (errors.length === outcomes.length) return {how: `could not probe it (${[...new Set(errors)].join(', ')})`, inUse: false, ip}
  if (outcomes.some((o) => o.kind === 'unreachable')) return {how: 'unreachable: no machine answered for it', inUse: false, ip}
  return {how: `no answer on port${ports.length === 1 ? '' : 's'} ${ports.join(' and ')} within ${timeoutMs / 1000} s`, inUse: false, ip}
}

function tryConnect(host: string, port: number, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect({host, port})
    const timer = setTimeout(() => done({kind: 'silent'}), timeoutMs)
    function done(outcome: Outcome): void {
      clearTimeout(timer)
      socket.destroy()
      resolve(outcome)
    }

    socket.once('connect', () => done({kind: 'answers'}))
    socket.once('error', (error: NodeJS.ErrnoException) => {
      const code = error.code ?? 'error'
      if (code === 'ECONNREFUSED' || code === 'ECONNRESET') done({kind: 'refused'})
      else if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EHOSTDOWN' || code === 'ETIMEDOUT') done({kind: 'unreachable'})
      else done({code, kind: 'error'})
    })
  })
}
