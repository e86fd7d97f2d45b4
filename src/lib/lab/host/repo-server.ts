/**
 * A small static HTTP server for the lab's package repositories, on the bridge address, so that apt
 * inside a VM uses them with the upstream sources.list form. GET and HEAD, If-Modified-Since, no
 * directory listings, nothing outside the root. `mounts` serve other folders below a first path
 * segment (the lab's updates repository, which lives in the lab's state dir, not in the cache).
 */
import {createReadStream, statSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import path from 'node:path'

export interface RepoServer {
  close: () => Promise<void>
  /** e.g. http://10.77.0.1:8080 (no trailing slash). */
  url: string
}

const TYPES: Record<string, string> = {
  '.deb': 'application/vnd.debian.binary-package',
  '.gpg': 'application/pgp-signature',
  '.gz': 'application/gzip',
  '.key': 'application/pgp-keys',
}

/** Resolves a request path inside root, or undefined for anything that would escape it. */
export function resolveInRoot(root: string, urlPath: string): string | undefined {
  let decoded: string
  try {
    decoded = decodeURIComponent(urlPath.split('?')[0] ?? '')
  } catch {
    return undefined
  }

  if (decoded.includes('\0')) return undefined
  const full = path.resolve(root, `.${path.posix.normalize(`/${decoded}`)}`)
  return full === root || full.startsWith(`${root}${path.sep}`) ? full : undefined
}

/** The file a request names: below a mount when its first segment is one, else below the root. */
export function resolveRequest(root: string, mounts: Readonly<Record<string, string>>, urlPath: string): string | undefined {
  const first = /^\/([^/?]+)(\/.*)?$/.exec(urlPath)
  const mount = first?.[1] === undefined ? undefined : mounts[first[1]]
  return mount === undefined ? resolveInRoot(root, urlPath) : resolveInRoot(path.resolve(mount), first?.[2] ?? '/')
}

export function serveRepo(root: string, host: string, port: number, mounts: Readonly<Record<string, string>> = {}): Promise<RepoServer> {
  const base = path.resolve(root)
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, {Allow: 'GET, HEAD'}).end()
      return
    }

    const file = resolveRequest(base, mounts, req.url ?? '/')
    let stat
    try {
      stat = file ? statSync(file) : undefined
    } catch {
      stat = undefined
    }

    if (!file || !stat?.isFile() || path.basename(file).startsWith('.')) {
      res.writeHead(404, {'Content-Type': 'text/plain'}).end('404 Not Found\n')
      return
    }

    const since = req.headers['if-modified-since']
    const mtime = new Date(Math.floor(stat.mtimeMs / 1000) * 1000)
    if (since && !Number.isNaN(Date.parse(since)) && mtime.getTime() <= Date.parse(since)) {
      res.writeHead(304).end()
      return
    }

    res.writeHead(200, {
      'Content-Length': stat.size,
      'Content-Type': TYPES[path.extname(file)] ?? 'text/plain; charset=utf-8',
      'Last-Modified': mtime.toUTCString(),
    })
    if (req.method === 'HEAD') {
      res.end()
      return
    }

    createReadStream(file).on('error', () => res.destroy()).pipe(res)
  })

  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve({
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          }),
        url: `http://${host}:${port}`,
      })
    })
  })
}
