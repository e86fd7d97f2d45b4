/**
 * Writes the Prometheus file the way node_exporter's textfile collector needs: into a temporary file
 * in the same folder (not ending in .prom, so the collector never reads it half-written), flushed to
 * disk, made world-readable (the collector usually runs as another user; a umask of 077 must not
 * hide it), then renamed over the target in one step.
 */
import {writeFileAtomic} from '../atomic-write.js'

export async function writeTextfile(file: string, content: string): Promise<void> {
  await writeFileAtomic(file, content, {mode: 0o644})
}
