/**
 * The lab's kube-apiserver "container": run by the lab kubelet (apiserver-pods.ts) with exactly the
 * manifest's command as arguments, inside the control plane's network namespace, it serves TLS on
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
 * started it is gone.
 */
import {request as httpRequest, type IncomingHttpHeaders} from 'node:http'
import {createServer} from 'node:https'
import type {TLSSocket} from 'node:tls'

import {readVmFile} from './vm-files.js'

const PUBLIC = /^\/(version|healthz|livez|readyz)(\/|$|\?)/

function flag(argv: readonly string[], name: string): string | undefined {
  return argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
}

function fatal(message: string): never {
  process.stderr.write(`E0000 00:00:00.000000       1 run.go:72] "command failed" err="${message}"\n`)
  process.exit(1)
}

function main(argv: string[]): void {
  const root = process.env.KPLAB_ROOT ?? '/'
  const upstream = process.env.KPLAB_UPSTREAM
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
  server.listen(port, host, () => process.stderr.write(`I0000 00:00:00.000000       1 secure_serving.go:213] Serving securely on ${host}:${port}\n`))

  const stop = () => {
    server.close(() => process.exit(0))
    server.closeAllConnections()
    setTimeout(() => process.exit(0), 2000).unref()
  }

  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  // The lab kubelet (the supervisor) went: the container goes with it.
  const parent = process.ppid
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0)
  }, 1000).unref()
}

// argv[2] is kube-apiserver itself (the manifest's command[0]).
main(process.argv.slice(3))
