/**
 * Writes the Prometheus file the way node_exporter's textfile collector needs: into a temporary file
 * in the same folder (not ending in .prom, so the collector never reads it half-written), flushed to
 * disk, made world-readable (the collector usually runs as another user; a umask of 077 must not
 * hide it), then renamed over the target in one step.
 */
import {randomBytes} from 'node:crypto'
import {chmod, open, rename, rm} from 'node:fs/promises'
import path from 'node:path'

export async function writeTextfile(file: string, content: string): Promise<void> {
  const target = path.resolve(file)
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  try {
    const handle = await open(temp, 'wx', 0o644)
    try {
      await handle.writeFile(content)
      await handle.sync()
    } finally {
      await handle.close()
    }

    await chmod(temp, 0o644)
    await rename(temp, target)
  } catch (error) {
    await rm(temp, {force: true})
    throw error
  }
}
