/** Write a file all at once or not at all: a temp file in the same folder, then rename (or link). */
import {randomBytes} from 'node:crypto'
import {link, mkdir, open, rename, unlink} from 'node:fs/promises'
import path from 'node:path'

import {RefusedError} from '../errors.js'

export interface WriteOptions {
  mode?: number
  /** Replace an existing file; without it an existing file is refused, atomically. */
  overwrite?: boolean
}

export async function writeFileAtomic(file: string, content: string, options: WriteOptions = {}): Promise<void> {
  await mkdir(path.dirname(file), {recursive: true})
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  const handle = await open(temp, 'wx', options.mode ?? 0o644)
  try {
    await handle.writeFile(content, 'utf8')
    await handle.sync()
  } finally {
    await handle.close()
  }

  try {
    if (options.overwrite) {
      await rename(temp, file)
      return
    }

    // link() fails if the target exists, so a file created meanwhile is never clobbered.
    await link(temp, file).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EEXIST') throw new RefusedError(`${file} already exists`, {hint: 'Pass --force to replace it, or --output to write elsewhere.'})
      throw error
    })
  } finally {
    await unlink(temp).catch(() => {})
  }
}
