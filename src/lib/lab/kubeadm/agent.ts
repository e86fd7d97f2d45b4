/**
 * The supervisor's end of the stubs' protocol (protocol.ts): a TCP server on the lab bridge. The
 * caller is the VM whose address the connection comes from — a VM cannot claim to be another
 * one, as it cannot choose its source address on the bridge without being root in the VM, which
 * is what a real node's root could do to a real cluster anyway.
 */
import {createServer, type Server, type Socket} from 'node:net'

import {parseAnswer, parseRequest, replyLine, type StubRequest} from './protocol.js'

/** One stub call, as the handler sees it. */
export interface StubSession {
  request: StubRequest
  /** Print on the stub's stdout / stderr. */
  out(text: string): void
  err(text: string): void
  /** Run a command in the VM through the stub (so its stubs log it), and wait for its exit code. */
  run(argv: readonly string[]): Promise<{code: number; output: string}>
  /** Print a prompt and read one line of the stub's stdin; undefined at end of input. */
  ask(prompt: string): Promise<string>
}

export type StubHandler = (peer: string, session: StubSession) => Promise<number>

export interface KubeadmAgent {
  close(): Promise<void>
  port: number
}

const MAX_LINE = 64 * 1024

/** Lines from a socket, one at a time, as a promise per line. */
function lineReader(socket: Socket) {
  let buffer = ''
  const lines: string[] = []
  let waiting: ((line: string | undefined) => void) | undefined
  let ended = false
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => {
    buffer += chunk
    if (buffer.length > MAX_LINE && !buffer.includes('\n')) socket.destroy()
    let at: number
    while ((at = buffer.indexOf('\n')) >= 0) {
      lines.push(buffer.slice(0, at))
      buffer = buffer.slice(at + 1)
    }
    if (waiting && lines.length > 0) {
      const w = waiting
      waiting = undefined
      w(lines.shift())
    }
  })
  const end = () => {
    ended = true
    if (waiting) {
      const w = waiting
      waiting = undefined
      w(undefined)
    }
  }
  socket.on('end', end)
  socket.on('close', end)
  socket.on('error', end)
  return (): Promise<string | undefined> => {
    if (lines.length > 0) return Promise.resolve(lines.shift())
    if (ended) return Promise.resolve(undefined)
    return new Promise((resolve) => (waiting = resolve))
  }
}

async function serve(socket: Socket, handler: StubHandler, log: (line: string) => void): Promise<void> {
  const next = lineReader(socket)
  const send = (line: string) => {
    if (!socket.destroyed) socket.write(`${line}\n`)
  }
  const peer = (socket.remoteAddress ?? '').replace(/^::ffff:/, '')
  const first = await next()
  if (first === undefined) return
  let code = 1
  try {
    const request = parseRequest(first)
    const answer = async (line: string) => {
      send(line)
      const reply = await next()
      if (reply === undefined) throw new Error('the stub went away')
      return parseAnswer(reply)
    }
    const session: StubSession = {
      async ask(prompt) {
        const reply = await answer(replyLine('ask', prompt))
        return 'answer' in reply ? reply.answer : ''
      },
      err: (text) => text && send(replyLine('err', text)),
      out: (text) => text && send(replyLine('out', text)),
      request,
      async run(argv) {
        const reply = await answer(replyLine('run', argv))
        return 'code' in reply ? reply : {code: 1, output: ''}
      },
    }
    code = await handler(peer, session)
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    log(`kubeadm agent: call from ${peer} failed: ${message}`)
    send(replyLine('err', `${message}\n`))
  }

  send(replyLine('exit', code))
  socket.end()
}

export function startKubeadmAgent(options: {handler: StubHandler; host: string; log: (line: string) => void; port: number}): Promise<KubeadmAgent> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    serve(socket, options.handler, options.log).catch((error: unknown) => {
      options.log(`kubeadm agent: ${String(error)}`)
      socket.destroy()
    })
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => {
      server.off('error', reject)
      const address = server.address()
      resolve({
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy()
            server.close(() => done())
          }),
        port: typeof address === 'object' && address ? address.port : options.port,
      })
    })
  })
}
