/**
 * The lab host's view of the machine: the bridge, namespaces, links, mounts and processes the lab
 * makes, found by name prefix or path so that a crashed lab can still be cleaned up.
 */
import {readFileSync, readdirSync, readlinkSync, rmSync} from 'node:fs'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {UsageError} from '../../errors.js'
import {run} from './exec.js'
import {pidAlive} from './lock.js'
import {inSubnet, LAB_PREFIX, type LabNetwork} from './options.js'

interface IpAddrJson {
  addr_info?: Array<{family: string; local: string; prefixlen: number}>
  ifname: string
}

export async function linkExists(name: string): Promise<boolean> {
  return (await run('ip', ['link', 'show', 'dev', name], {allowFailure: true})).code === 0
}

/** Refuses a lab subnet that overlaps an address the machine already has on another interface. */
export async function checkSubnetFree(network: LabNetwork): Promise<void> {
  const {stdout} = await run('ip', ['-j', '-4', 'addr', 'show'])
  for (const link of JSON.parse(stdout) as IpAddrJson[]) {
    if (link.ifname === network.bridge) continue
    for (const addr of link.addr_info ?? []) {
      if (inSubnet(addr.local, network.subnet) || inSubnet(network.hostIp, `${addr.local}/${addr.prefixlen}`)) {
        throw new UsageError(`the lab subnet ${network.subnet} collides with ${addr.local}/${addr.prefixlen} on ${link.ifname}`, {
          hint: 'choose another lab subnet (hostCidr), e.g. 10.78.0.1/24',
        })
      }
    }
  }
}

/** The lab bridge with the host's address on it, up. No NAT: VMs reach only the lab host. */
export async function ensureBridge(network: LabNetwork): Promise<void> {
  if (!(await linkExists(network.bridge))) {
    await checkSubnetFree(network)
    await run('ip', ['link', 'add', network.bridge, 'type', 'bridge'])
  }

  await run('ip', ['addr', 'replace', network.cidr, 'dev', network.bridge])
  await run('ip', ['link', 'set', network.bridge, 'up'])
}

/** One more address on the bridge (a /32, such as the lab's control-plane VIP); it goes when the bridge goes. */
export async function addBridgeAddress(bridge: string, ip: string): Promise<void> {
  await run('ip', ['addr', 'replace', `${ip}/32`, 'dev', bridge])
}

/** Links whose name starts with the lab prefix (the bridge, VM veths). */
export async function labLinks(): Promise<string[]> {
  const {stdout} = await run('ip', ['-j', 'link', 'show'])
  return (JSON.parse(stdout) as Array<{ifname: string}>).map((l) => l.ifname).filter((n) => n.startsWith(LAB_PREFIX))
}

export async function labNetns(): Promise<string[]> {
  const {stdout} = await run('ip', ['-j', 'netns', 'list'], {allowFailure: true})
  if (!stdout.trim()) return []
  return (JSON.parse(stdout) as Array<{name: string}>).map((n) => n.name).filter((n) => n.startsWith(`${LAB_PREFIX}-`))
}

export async function netnsPids(netns: string): Promise<number[]> {
  const {stdout} = await run('ip', ['netns', 'pids', netns], {allowFailure: true})
  return stdout.split('\n').map(Number).filter((n) => n > 0)
}

/** Mount points at or under a folder, deepest first, from the host's mount table. */
export function mountsUnder(dir: string): string[] {
  const root = path.resolve(dir)
  const points: string[] = []
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const field = line.split(' ')[4]
    if (!field) continue
    const point = field.replaceAll(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(Number.parseInt(o, 8)))
    if (point === root || point.startsWith(`${root}/`)) points.push(point)
  }

  return points.sort((a, b) => b.length - a.length)
}

export async function unmountUnder(dir: string): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const points = mountsUnder(dir)
    if (points.length === 0) return
    for (const point of points) {
      const {code} = await run('umount', [point], {allowFailure: true})
      if (code !== 0) await run('umount', ['-l', point], {allowFailure: true})
    }
  }

  const left = mountsUnder(dir)
  if (left.length > 0) throw new UsageError(`cannot unmount ${left.join(', ')}`)
}

/** rm -rf that refuses to descend into anything still mounted (an overlay, a bind of the host). */
export async function removeTree(dir: string): Promise<void> {
  await unmountUnder(dir)
  rmSync(dir, {force: true, recursive: true})
}

/** The current process and its ancestors (a `sudo kp lab down --state-dir …` must survive). */
function selfAndAncestors(): Set<number> {
  const pids = new Set<number>()
  let pid = process.pid
  while (pid > 1 && !pids.has(pid)) {
    pids.add(pid)
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    } catch {
      break
    }
  }

  return pids
}

/** Host processes with an argument that is one of the paths or lies under one of them. */
export function processesMentioning(paths: readonly string[]): number[] {
  const spared = selfAndAncestors()
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry)
    if (!Number.isInteger(pid) || spared.has(pid)) continue
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
      if (args.some((arg) => paths.some((p) => arg === p || arg.includes(`${p}/`)))) pids.push(pid)
    } catch {
      // gone
    }
  }

  return pids
}

/**
 * Host processes inside the PID namespace `pid` is in, its init included — never the host's own
 * namespace (a stale pid file naming a reused pid must not turn into "kill everything").
 */
export function processesInPidNamespaceOf(pid: number): number[] {
  let ns: string
  try {
    ns = readlinkSync(`/proc/${pid}/ns/pid`)
    if (ns === readlinkSync('/proc/self/ns/pid')) return []
  } catch {
    return []
  }

  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    const other = Number(entry)
    if (!Number.isInteger(other)) continue
    try {
      if (readlinkSync(`/proc/${other}/ns/pid`) === ns) pids.push(other)
    } catch {
      // gone
    }
  }

  return pids
}

export function killAll(pids: readonly number[], signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal)
    } catch {
      // already gone
    }
  }
}

/** Waits until none of the processes is alive any more. */
export async function waitGone(pids: readonly number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (pids.some((pid) => pidAlive(pid) && !isZombie(pid))) {
    if (Date.now() > deadline) return false
    await sleep(50)
  }

  return true
}

function isZombie(pid: number): boolean {
  try {
    return / Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\)/, ')'))
  } catch {
    return false
  }
}
