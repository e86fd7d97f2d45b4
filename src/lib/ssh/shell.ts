/**
 * `kp ssh NODE` without a command: a login shell on a pseudo-terminal, like `ssh -t`. The local
 * terminal goes raw so keys (Ctrl-C, arrows, tab) reach the remote side, follows window resizes,
 * and is restored however the shell ends.
 */
import type {Client} from 'ssh2'

import {SshConnectionLostError} from './errors.js'
import type {ShellOptions} from './types.js'

export function openShell(client: Client, io: ShellOptions): Promise<number> {
  const size = () => ({cols: io.stdout.columns || 80, rows: io.stdout.rows || 24})
  return new Promise<number>((resolve, reject) => {
    client.shell({...size(), height: 0, term: io.term ?? process.env.TERM ?? 'xterm-256color', width: 0}, (error, channel) => {
      if (error) return reject(new SshConnectionLostError(`cannot open a shell: ${error.message}`, {cause: error}))
      let code = 255
      const wasRaw = io.stdin.isRaw
      const onResize = () => channel.setWindow(size().rows, size().cols, 0, 0)
      const onInput = (data: Buffer) => channel.write(data)
      if (io.stdin.isTTY) io.stdin.setRawMode(true)
      io.stdin.on('data', onInput)
      io.stdin.resume()
      io.stdout.on('resize', onResize)
      channel.on('data', (data: Buffer) => io.stdout.write(data))
      channel.stderr.on('data', (data: Buffer) => io.stderr.write(data))
      channel.on('exit', (exitCode: number | null) => {
        code = exitCode ?? 255
      })
      channel.on('close', () => {
        io.stdin.off('data', onInput)
        io.stdout.off('resize', onResize)
        if (io.stdin.isTTY) io.stdin.setRawMode(wasRaw)
        io.stdin.pause()
        resolve(code)
      })
    })
  })
}
