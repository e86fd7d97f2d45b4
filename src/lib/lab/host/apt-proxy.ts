/**
 * The lab's apt proxy: Debian's apt-cacher-ng, run as a lab-owned process (not a system service)
 * listening on the bridge address (for the VMs) and on loopback (for debootstrap), with its cache in
 * the lab cache dir so that packages are downloaded once across labs. The VMs have no route out;
 * this proxy is their only way to the Debian mirror.
 */
import {spawn} from 'node:child_process'
import {closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync} from 'node:fs'
import {connect} from 'node:net'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {ExternalCommandError} from '../../errors.js'
import {labEnv} from './exec.js'
import {pidAlive, readPid} from './lock.js'
import {cachePaths, type ResolvedLabOptions, statePaths} from './options.js'
import {preflight, PROXY_TOOLS} from './preflight.js'
import {killAll, waitGone} from './system.js'

export interface AptProxy {
  /** apt-cacher-ng's transfer log: `time|I|…` lines are downloads from the mirror, `O` deliveries. */
  logFile: string
  /** For debootstrap on the host. */
  loopbackUrl: string
  pid: number
  /** For the VMs. */
  url: string
}

function proxyPaths(options: ResolvedLabOptions) {
  const dir = statePaths(options.stateDir).aptProxy
  return {
    conf: path.join(dir, 'conf'),
    console: path.join(dir, 'console.log'),
    dir,
    log: path.join(dir, 'log'),
    pid: path.join(dir, 'pid'),
  }
}

export function aptCacherConf(options: ResolvedLabOptions): string {
  const p = proxyPaths(options)
  return [
    '# kp lab: written by the lab host; a lab-owned apt-cacher-ng, not the system service.',
    `CacheDir: ${cachePaths(options.cacheDir).aptCache}`,
    `LogDir: ${p.log}`,
    'SupportDir: /usr/lib/apt-cacher-ng',
    `Port: ${options.aptProxyPort}`,
    `BindAddress: 127.0.0.1 ${options.network.hostIp}`,
    `PidFile: ${path.join(p.dir, 'acng.pid')}`,
    `SocketPath: ${path.join(p.dir, 'socket')}`,
    'ForeGround: 1',
    'UnbufferLogs: 1',
    'ExThreshold: 4',
    'ReportPage: acng-report.html',
    // Indexes (InRelease…) fetched in the last 10 minutes are served without asking the mirror again.
    // (Several VMs revalidating one index in the same second can still make apt-cacher-ng drop
    // connections — "File exists" in its error log; the playbooks time out and retry apt-get update.)
    'FreshIndexMaxAge: 600',
    '',
  ].join('\n')
}

function urls(options: ResolvedLabOptions, pid: number): AptProxy {
  return {
    logFile: path.join(proxyPaths(options).log, 'apt-cacher.log'),
    loopbackUrl: `http://127.0.0.1:${options.aptProxyPort}`,
    pid,
    url: `http://${options.network.hostIp}:${options.aptProxyPort}`,
  }
}

export function runningAptProxy(options: ResolvedLabOptions): AptProxy | undefined {
  const p = proxyPaths(options)
  const pid = readPid(p.pid)
  if (pid === undefined || !pidAlive(pid)) return undefined
  try {
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(p.conf)) return undefined
  } catch {
    return undefined
  }

  return urls(options, pid)
}

/** Starts the lab's apt-cacher-ng (the bridge must exist). Idempotent. */
export async function startAptProxy(options: ResolvedLabOptions): Promise<AptProxy> {
  const running = runningAptProxy(options)
  if (running) return running

  preflight(PROXY_TOOLS)
  for (const host of ['127.0.0.1', options.network.hostIp]) {
    if (await listening(host, options.aptProxyPort)) {
      throw new ExternalCommandError(`cannot start the lab's apt-cacher-ng: something already listens on ${host}:${options.aptProxyPort}`, {
        hint: 'if it is the system apt-cacher-ng service, stop it (service apt-cacher-ng stop), or give the lab another aptProxyPort',
      })
    }
  }

  const p = proxyPaths(options)
  mkdirSync(p.conf, {recursive: true})
  mkdirSync(p.log, {recursive: true})
  mkdirSync(cachePaths(options.cacheDir).aptCache, {recursive: true})
  writeFileSync(path.join(p.conf, 'acng.conf'), aptCacherConf(options))
  const out = openSync(p.console, 'a')
  const child = spawn('apt-cacher-ng', ['-c', p.conf, 'ForeGround=1'], {detached: true, env: labEnv(), stdio: ['ignore', out, out]})
  closeSync(out)
  const pid = await new Promise<number>((resolve, reject) => {
    child.once('error', reject)
    child.once('spawn', () => resolve(child.pid ?? 0))
  })
  child.unref()
  writeFileSync(p.pid, `${pid}\n`)

  const deadline = Date.now() + 15_000
  while (!(await listening(options.network.hostIp, options.aptProxyPort))) {
    if (!pidAlive(pid) || Date.now() > deadline) {
      killAll([pid])
      const log = existsSync(p.console) ? readFileSync(p.console, 'utf8').trim().split('\n').slice(-5).join('\n') : ''
      throw new ExternalCommandError(`apt-cacher-ng did not start listening on ${options.network.hostIp}:${options.aptProxyPort}${log ? `:\n${log}` : ''}`)
    }

    await sleep(100)
  }

  return urls(options, pid)
}

export async function stopAptProxy(options: ResolvedLabOptions): Promise<void> {
  const running = runningAptProxy(options)
  if (running) {
    killAll([running.pid], 'SIGTERM')
    if (!(await waitGone([running.pid], 5000))) killAll([running.pid])
    await waitGone([running.pid], 5000)
  }
}

function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({host, port})
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}
