/**
 * Removes everything a lab put on the machine: VM processes, network namespaces, veths, the bridge
 * and its address, overlay mounts, apt-cacher-ng and gpg agents. Works from a fresh process after a
 * crash: it finds leftovers by name (`kplab…` links and namespaces), by path (processes whose
 * command line names the state dir, mounts under it) and by namespace membership.
 */
import {readdirSync} from 'node:fs'
import path from 'node:path'

import {assertNoOtherLab, readPid, releaseLabLock} from './lock.js'
import {cachePaths, type ResolvedLabOptions, statePaths} from './options.js'
import {killAll, labLinks, labNetns, mountsUnder, netnsPids, processesInPidNamespaceOf, processesMentioning, removeTree, unmountUnder, waitGone} from './system.js'
import {run} from './exec.js'

export interface TeardownReport {
  links: string[]
  mounts: string[]
  netns: string[]
  processes: number
}

export interface TeardownOptions {
  /** Also delete the state dir (VM disks, snapshots, logs). The cache dir is always kept. */
  purge?: boolean
}

export async function teardownLab(options: ResolvedLabOptions, teardown: TeardownOptions = {}): Promise<TeardownReport> {
  assertNoOtherLab(options.stateDir)
  const paths = statePaths(options.stateDir)
  const owned = [options.stateDir, cachePaths(options.cacheDir).gnupg]
  let processes = 0
  const netns = await labNetns()

  // Supervisors first (so nothing boots again), then whatever names the lab's folders, then
  // everything inside the VMs' PID and network namespaces.
  for (let round = 0; round < 5; round++) {
    const pids = new Set<number>(processesMentioning(owned))
    for (const vmid of listDirs(paths.vms)) {
      const init = readPid(path.join(paths.vms, vmid, 'init.pid'))
      if (init !== undefined) for (const pid of processesInPidNamespaceOf(init)) pids.add(pid)
    }

    for (const ns of netns) for (const pid of await netnsPids(ns)) pids.add(pid)
    if (pids.size === 0) break
    killAll([...pids])
    processes += pids.size
    await waitGone([...pids], 10_000)
  }

  for (const ns of netns) await run('ip', ['netns', 'del', ns], {allowFailure: true})
  const mounts = mountsUnder(options.stateDir)
  await unmountUnder(options.stateDir)
  const links = await labLinks()
  for (const link of links) await run('ip', ['link', 'del', link], {allowFailure: true})

  for (const vmid of listDirs(paths.vms)) {
    for (const f of ['init.pid', 'supervisor.pid']) await removeTree(path.join(paths.vms, vmid, f))
  }

  await removeTree(path.join(paths.aptProxy, 'pid'))
  releaseLabLock(options.stateDir)
  if (teardown.purge) await removeTree(options.stateDir)
  return {links, mounts, netns, processes}
}

function listDirs(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}
