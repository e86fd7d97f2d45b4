/**
 * The lab's kube-apiserver "container": run by the lab kubelet (control-plane-pods.ts) with exactly the
 * manifest's command as arguments, inside the control plane's network and PID namespaces, it serves TLS on
 * `--advertise-address:--secure-port` with the certificate, key and client CA it read ONCE at start
 * from the node's files (`--tls-cert-file`, `--tls-private-key-file`, `--client-ca-file`), as the
 * real kube-apiserver does: renewed files are served only after a restart of the static pod.
 *
 * It is a front proxy to the cluster's lab API server (../kube): a client certificate verified
 * against the node's client CA becomes X-Remote-User / X-Remote-Group on a unix socket only the lab
 * host's root reaches (KPLAB_UPSTREAM); such headers from the client are dropped. /version,
 * /healthz, /livez and /readyz pass without a certificate, as kube-apiserver allows anonymous
 * access to them. Bodies stream both ways (watches).
 *
 * KPLAB_ROOT is the VM's root as the host sees it (files are resolved inside it); KPLAB_CRASH=1
 * makes it exit at once (kp lab fault --apiserver-wont-start). It exits when the lab kubelet that
 * started it is gone (KPLAB_SUPERVISOR, its PID in the host's /proc, which this process still sees:
 * nsenter keeps the host's mount namespace; else its parent).
 *
 * Run as kube-controller-manager or kube-scheduler (the manifest's command[0]) it only waits for
 * SIGTERM: the lab's API server does their work, the container is there to be listed and restarted.
 *
 * Either way its argv[0] becomes the manifest's command[0] and, given KPLAB_CONTAINER_ID, it
 * records itself in the VM's /run/kp-lab/containers/<id>/ and logs to KPLAB_LOG, exactly as
 * /usr/lib/kp-lab/container-run does for etcd, so the lab's crictl lists it (the PID recorded is
 * its own in the VM's PID namespace).
 */
import {closeSync, existsSync, openSync, readFileSync, writeSync} from 'node:fs'
import {request as httpRequest, type IncomingHttpHeaders} from 'node:http'
import {createServer} from 'node:https'
import type {TLSSocket} from 'node:tls'

import {readVmFile, resolveInRoot, vmPathExists, writeVmFiles} from './vm-files.js'

const PUBLIC = /^\/(version|healthz|livez|readyz)(\/|$|\?)/

function flag(argv: readonly string[], name: string): string | undefined {
  return argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
}

let logFd: number | undefined

function say(line: string): void {
  if (logFd === undefined) process.stderr.write(`${line}\n`)
  else writeSync(logFd, `${line}\n`)
}

function fatal(message: string): never {
  say(`E0000 00:00:00.000000       1 run.go:72] "command failed" err="${message}"`)
  process.exit(1)
}

/** What container-run writes for etcd, with the time in ns as its `${EPOCHREALTIME/./}000`; the PID last (crictl's "running"). */
function recordContainer(root: string, command: string): void {
  const env = process.env
  const id = env.KPLAB_CONTAINER_ID
  if (!id) return
  const log = env.KPLAB_LOG
  if (log) {
    if (!vmPathExists(root, log)) writeVmFiles(root, [[log, {content: '', mode: 0o640}]])
    logFd = openSync(resolveInRoot(root, log, false), 'a')
  }

  const dir = `/run/kp-lab/containers/${id}`
  const created = `${BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000))}000`
  const fields: Array<[string, string]> = [
    ['name', env.KPLAB_CONTAINER_NAME ?? command],
    ['pod', env.KPLAB_POD ?? ''],
    ['pod-id', env.KPLAB_POD_ID ?? ''],
    ['image', env.KPLAB_IMAGE ?? ''],
    ['root', env.KPLAB_IMAGE_ROOT ?? '/'],
    ['command', command],
    ['attempt', env.KPLAB_ATTEMPT ?? '0'],
    ['created', created],
    ['pid', String(process.pid)],
  ]
  writeVmFiles(root, fields.map(([name, value]) => [`${dir}/${name}`, {content: `${value}\n`, mode: 0o644}]))
}

/** Exits once the lab kubelet that started it is gone. */
function followSupervisor(): void {
  const supervisor = Number(process.env.KPLAB_SUPERVISOR)
  // Field 22 of /proc/<pid>/stat, the start time: a PID reused by another process is not the supervisor.
  const startOf = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[19]
    } catch {
      return undefined
    }
  }

  const started = supervisor > 0 ? startOf(supervisor) : undefined
  const parent = process.ppid
  setInterval(() => {
    const gone = supervisor > 0 ? !existsSync(`/proc/${supervisor}`) || startOf(supervisor) !== started : process.ppid !== parent
    if (gone) process.exit(0)
  }, 1000).unref()
}

function idle(): void {
  // Nothing to serve: it runs until stopped.
  const keep = setInterval(() => undefined, 60_000)
  const stop = () => {
    clearInterval(keep)
    if (logFd !== undefined) closeSync(logFd)
    process.exit(0)
  }

  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

function main(command: string, argv: string[]): void {
  const root = process.env.KPLAB_ROOT ?? '/'
  const upstream = process.env.KPLAB_UPSTREAM
  process.title = command
  recordContainer(root, command)
  followSupervisor()
  if (command !== 'kube-apiserver') {
    say(`I0000 00:00:00.000000       1 serving.go:386] ${command}: the lab's API server does this work; waiting until stopped`)
    idle()
    return
  }

  if (process.env.KPLAB_CRASH === '1') fatal('kp lab fault: kube-apiserver will not start')
  if (!upstream) fatal('KPLAB_UPSTREAM is not set')
  const read = (name: string) => {
    const file = flag(argv, name)
    const text = file === undefined ? undefined : readVmFile(root, file)
    if (text === undefined) fatal(`unable to load ${name} ${JSON.stringify(file)}: open ${file}: no such file or directory`)
    return text
  }

  const cert = read('tls-cert-file')
  const key = read('tls-private-key-file')
  const ca = read('client-ca-file')
  const host = flag(argv, 'advertise-address') ?? '0.0.0.0'
  const port = Number(flag(argv, 'secure-port') ?? 6443)

  const server = createServer({ca, cert, key, rejectUnauthorized: false, requestCert: true}, (req, res) => {
    const socket = req.socket as TLSSocket
    const headers: IncomingHttpHeaders = {}
    for (const [k, v] of Object.entries(req.headers)) if (!/^x-remote-/i.test(k)) headers[k] = v
    const peer = socket.authorized ? socket.getPeerCertificate() : undefined
    const cn = peer?.subject?.CN
    const user = Array.isArray(cn) ? cn[0] : cn
    if (user) {
      const o = peer?.subject?.O
      headers['x-remote-user'] = user
      headers['x-remote-group'] = o === undefined ? [] : Array.isArray(o) ? o : [o]
    } else if (!PUBLIC.test(req.url ?? '')) {
      res.writeHead(401, {'content-type': 'application/json'})
      res.end(JSON.stringify({apiVersion: 'v1', code: 401, kind: 'Status', message: 'Unauthorized', metadata: {}, reason: 'Unauthorized', status: 'Failure'}))
      return
    }

    const forward = httpRequest({headers, method: req.method, path: req.url, socketPath: upstream}, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    })
    forward.on('error', () => {
      if (!res.headersSent) res.writeHead(503, {'content-type': 'text/plain'})
      res.end('the lab API server is not running\n')
    })
    res.on('close', () => forward.destroy())
    req.pipe(forward)
  })
  server.on('error', (error) => fatal(`failed to create listener: ${error.message}`))
  server.listen(port, host, () => say(`I0000 00:00:00.000000       1 secure_serving.go:213] Serving securely on ${host}:${port}`))

  const stop = () => {
    server.close(() => process.exit(0))
    server.closeAllConnections()
    setTimeout(() => process.exit(0), 2000).unref()
  }

  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

// argv[2] is the manifest's command[0]: kube-apiserver, kube-controller-manager or kube-scheduler.
main(process.argv[2] ?? 'kube-apiserver', process.argv.slice(3))
