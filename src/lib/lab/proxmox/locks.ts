/**
 * The `flock` locks of qemu-server (`/var/lock/qemu-server/lock-<vmid>.conf`), as PVE::Tools::
 * lock_file_full takes them: exclusive or shared, waiting up to a timeout, then failing with
 * `can't lock file '…' - got timeout`. They live only in memory, like real flocks: a restart drops them
 * (the `lock` property in a VM config is something else and survives, see vm-config.ts).
 */

export type LockMode = 'exclusive' | 'shared'
export type Release = () => void

interface Waiter {
  grant: () => void
  mode: LockMode
}

export function vmLockFile(vmid: number): string {
  return `/var/lock/qemu-server/lock-${vmid}.conf`
}

export class LockTimeoutError extends Error {
  constructor(file: string) {
    super(`can't lock file '${file}' - got timeout`)
    this.name = 'LockTimeoutError'
  }
}

export class FileLocks {
  private readonly held = new Map<string, {count: number; mode: LockMode}>()
  private readonly waiting = new Map<string, Waiter[]>()

  isHeld(file: string): boolean {
    return this.held.has(file)
  }

  /**
   * Take the lock, waiting at most `timeoutMs`. `onWait` runs once if the lock is busy, where
   * lock_file_full prints "trying to acquire lock...".
   */
  acquire(file: string, mode: LockMode, timeoutMs: number, onWait?: () => void): Promise<Release> {
    if (this.compatible(file, mode) && (this.waiting.get(file)?.length ?? 0) === 0) {
      return Promise.resolve(this.take(file, mode))
    }
    onWait?.()
    return new Promise<Release>((resolve, reject) => {
      const queue = this.waiting.get(file) ?? []
      this.waiting.set(file, queue)
      const waiter: Waiter = {
        mode,
        grant: () => {
          clearTimeout(timer)
          resolve(this.take(file, mode))
        },
      }
      const timer = setTimeout(() => {
        const index = queue.indexOf(waiter)
        if (index >= 0) queue.splice(index, 1)
        if (queue.length === 0) this.waiting.delete(file)
        reject(new LockTimeoutError(file))
      }, Math.max(0, timeoutMs))
      queue.push(waiter)
    })
  }

  private compatible(file: string, mode: LockMode): boolean {
    const current = this.held.get(file)
    return current === undefined || (mode === 'shared' && current.mode === 'shared')
  }

  private take(file: string, mode: LockMode): Release {
    const current = this.held.get(file)
    if (current) current.count++
    else this.held.set(file, {count: 1, mode})
    let released = false
    return () => {
      if (released) return
      released = true
      const entry = this.held.get(file)
      if (!entry) return
      entry.count--
      if (entry.count <= 0) this.held.delete(file)
      this.wake(file)
    }
  }

  private wake(file: string): void {
    const queue = this.waiting.get(file)
    while (queue && queue.length > 0) {
      const next = queue[0]
      if (!next || !this.compatible(file, next.mode)) break
      queue.shift()
      next.grant()
    }
    if (queue && queue.length === 0) this.waiting.delete(file)
  }
}
