/**
 * Is an SSH server answering? Connects and reads the identification line (`SSH-2.0-…`, RFC 4253
 * §4.2) without authenticating: enough to know a freshly booted VM's sshd is up.
 */
import {connect} from 'node:net'
import {setTimeout as sleep} from 'node:timers/promises'

export function readSshBanner(host: string, port: number, timeoutMs = 5000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({host, port, timeout: timeoutMs})
    let data = ''
    const done = (banner: string | undefined) => {
      socket.destroy()
      resolve(banner)
    }

    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      data += chunk
      const line = data.split('\n').find((l) => l.startsWith('SSH-'))
      if (line) done(line.trim())
      else if (data.length > 8192) done(undefined)
    })
    socket.on('timeout', () => done(undefined))
    socket.on('error', () => done(undefined))
    socket.on('close', () => done(undefined))
  })
}

/** Polls until the banner arrives; the banner, or undefined at the deadline or on abort. */
export async function waitForSsh(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs
  for (let delay = 250; ; delay = Math.min(delay * 2, 2000)) {
    const banner = await readSshBanner(host, port, Math.min(5000, Math.max(500, deadline - Date.now())))
    if (banner) return banner
    if (Date.now() + delay > deadline || signal?.aborted) return undefined
    await sleep(delay, undefined, {signal}).catch(() => undefined)
  }
}
