/**
 * The lab's node image: a Debian 12 minimal root (debootstrap --variant=minbase) with sshd, sudo
 * and the recording stubs, built once per recipe and cached as `<cacheDir>/image-<hash>`. The hash
 * covers everything that shapes the image (suite, package list, the image assets, this file's
 * recipe version, the apt proxy address written into it), so a change rebuilds it and nothing else
 * does. It is made in two cached steps: the debootstrapped root (`base-<hash>`, keyed by suite and
 * packages only, the slow part) and the image proper (a copy of the base with the lab's assets and
 * customize.sh applied, a second or two). Each goes to a temporary folder that is renamed into place
 * only when complete, so a killed build never leaves a half image behind.
 */
import {createHash} from 'node:crypto'
import {cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {wrap} from '../../errors.js'
import {labEnv, run} from './exec.js'
import {pidAlive, withFileLock} from './lock.js'
import {assetsDir, type ResolvedLabOptions} from './options.js'
import {ensureSigningKey} from './packages.js'
import {IMAGE_TOOLS, preflight} from './preflight.js'
import {removeTree} from './system.js'
import {UPDATES_KEYRING, UPDATES_SOURCES_FILE, updatesSourcesFile} from './updates.js'

/** Bump when the build steps below change in a way the assets' hash does not show. */
export const IMAGE_RECIPE_VERSION = 3

export const IMAGE_SUITE = 'bookworm'

/** On top of minbase: what a Debian cloud image has that kp relies on. */
export const IMAGE_PACKAGES = ['ca-certificates', 'curl', 'gnupg', 'iproute2', 'netbase', 'openssh-server', 'procps', 'sudo'] as const

export interface ImageRecipe {
  aptProxy: string
  assets: string
  packages: string[]
  suite: string
  /** The updates repository every VM has as an apt source: its sources file and the key it trusts. */
  updates: {keyFingerprint: string; sources: string}
  version: number
}

export interface ImageInfo {
  /** The debootstrapped root the image was made from. */
  base: string
  /** Whether this call built it (false: it was cached). */
  built: boolean
  dir: string
  hash: string
  recipe: ImageRecipe
  seconds: number
}

const COMPLETE_MARKER = 'etc/kp-lab-image.json'

/** A stable hash of every file (path, mode, content) under a folder. */
export function hashTree(dir: string): string {
  const hash = createHash('sha256')
  const walk = (rel: string): void => {
    const entries = readdirSync(path.join(dir, rel), {withFileTypes: true}).sort((a, b) => a.name.localeCompare(b.name))
    for (const entry of entries) {
      const child = path.join(rel, entry.name)
      const full = path.join(dir, child)
      if (entry.isDirectory()) {
        hash.update(`d ${child}\n`)
        walk(child)
      } else {
        hash.update(`f ${child} ${(statSync(full).mode & 0o777).toString(8)}\n`)
        hash.update(readFileSync(full))
      }
    }
  }

  walk('.')
  return hash.digest('hex')
}

export function imageRecipe(options: ResolvedLabOptions, keyFingerprint: string): ImageRecipe {
  return {
    aptProxy: aptProxyUrl(options),
    assets: hashTree(path.join(assetsDir(), 'image')),
    packages: [...IMAGE_PACKAGES],
    suite: IMAGE_SUITE,
    updates: {keyFingerprint, sources: updatesSourcesFile(`http://${options.network.hostIp}:${options.repoPort}`)},
    version: IMAGE_RECIPE_VERSION,
  }
}

export function recipeHash(recipe: ImageRecipe): string {
  return createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 16)
}

export function aptProxyUrl(options: ResolvedLabOptions): string {
  return `http://${options.network.hostIp}:${options.aptProxyPort}`
}

/** apt inside the VMs goes through the lab's apt-cacher-ng; the lab's own repository directly. */
export function aptProxyConf(options: ResolvedLabOptions): string {
  return [
    '// kp lab: Debian packages come through the lab host\'s apt-cacher-ng (the VMs have no other way out).',
    `Acquire::http::Proxy "${aptProxyUrl(options)}/";`,
    `Acquire::http::Proxy::${options.network.hostIp} "DIRECT";`,
    '// No pipelining through the proxy: with several VMs revalidating the same index at once,',
    '// apt-cacher-ng closed a pipelined connection and apt waited forever in CLOSE-WAIT.',
    'Acquire::http::Pipeline-Depth "0";',
    '',
  ].join('\n')
}

export function imageDir(options: ResolvedLabOptions, hash: string): string {
  return path.join(options.cacheDir, `image-${hash}`)
}

export function imageComplete(dir: string): boolean {
  return existsSync(path.join(dir, COMPLETE_MARKER))
}

export interface EnsureImageOptions {
  /** An HTTP proxy for debootstrap's downloads (the lab's apt-cacher-ng), e.g. http://127.0.0.1:3142. */
  proxy?: string
}

/** Returns the cached image for the current recipe, building it first if needed. */
export async function ensureImage(options: ResolvedLabOptions, build: EnsureImageOptions = {}): Promise<ImageInfo> {
  const started = Date.now()
  const key = await ensureSigningKey(options)
  const recipe = imageRecipe(options, key.fingerprint)
  const hash = recipeHash(recipe)
  const dir = imageDir(options, hash)
  const base = baseDir(options, recipe)
  const info = (built: boolean): ImageInfo => ({base, built, dir, hash, recipe, seconds: (Date.now() - started) / 1000})
  if (imageComplete(dir)) return info(false)

  preflight(IMAGE_TOOLS)
  mkdirSync(options.cacheDir, {recursive: true})
  await ensureBase(options, recipe, build)
  return withFileLock(path.join(options.cacheDir, `.image-${hash}.lock`), 30 * 60_000, 'building the lab image', async () => {
    if (imageComplete(dir)) return info(false)
    await removeStaleBuilds(options.cacheDir)
    if (existsSync(dir)) await removeTree(dir)
    const tmp = path.join(options.cacheDir, `.image-${hash}.tmp-${process.pid}`)
    try {
      await run('cp', ['-a', '--reflink=auto', base, tmp])
      await customize(tmp, options, recipe, key.home)
      renameSync(tmp, dir)
    } catch (error) {
      await removeTree(tmp)
      throw wrap('building the lab node image', error)
    }

    options.log(`built the lab node image ${hash} in ${((Date.now() - started) / 1000).toFixed(0)} s`)
    return info(true)
  })
}

/**
 * The debootstrapped root the image is made from, cached apart from the image so that a change to
 * the stubs or the init (the image assets) costs a copy and a chroot, not a new debootstrap.
 */
function baseDir(options: ResolvedLabOptions, recipe: ImageRecipe): string {
  const hash = createHash('sha256').update(JSON.stringify({packages: recipe.packages, suite: recipe.suite, version: recipe.version})).digest('hex').slice(0, 16)
  return path.join(options.cacheDir, `base-${hash}`)
}

async function ensureBase(options: ResolvedLabOptions, recipe: ImageRecipe, build: EnsureImageOptions): Promise<string> {
  const dir = baseDir(options, recipe)
  const hash = path.basename(dir).slice('base-'.length)
  const marker = path.join(dir, '.kp-lab-base-complete')
  if (existsSync(marker)) return dir
  return withFileLock(path.join(options.cacheDir, `.base-${hash}.lock`), 30 * 60_000, 'debootstrapping the lab image', async () => {
    if (existsSync(marker)) return dir
    await removeStaleBuilds(options.cacheDir)
    if (existsSync(dir)) await removeTree(dir)
    const started = Date.now()
    options.log(`debootstrapping ${recipe.suite} (minbase) for the lab node image${build.proxy ? ` through ${build.proxy}` : ''}`)
    const tmp = path.join(options.cacheDir, `.base-${hash}.tmp-${process.pid}`)
    const env = labEnv(build.proxy ? {http_proxy: build.proxy, HTTP_PROXY: build.proxy} : {})
    try {
      await run(
        'debootstrap',
        ['--variant=minbase', `--include=${recipe.packages.join(',')}`, '--components=main', '--merged-usr', recipe.suite, tmp, options.mirror],
        {env, timeoutMs: 30 * 60_000},
      )
      // The downloaded .debs stay in apt-cacher-ng's cache; the base does not need a copy.
      await run('find', [path.join(tmp, 'var/cache/apt/archives'), '-name', '*.deb', '-delete'])
      writeFileSync(path.join(tmp, '.kp-lab-base-complete'), `${new Date().toISOString()}\n`)
      renameSync(tmp, dir)
    } catch (error) {
      await removeTree(tmp)
      throw wrap('debootstrapping the lab node image', error)
    }

    options.log(`debootstrapped in ${((Date.now() - started) / 1000).toFixed(0)} s`)
    return dir
  })
}

async function customize(root: string, options: ResolvedLabOptions, recipe: ImageRecipe, gnupgHome: string): Promise<void> {
  const assets = path.join(assetsDir(), 'image')
  await removeTree(path.join(root, '.kp-lab-base-complete'))
  cpSync(path.join(assets, 'rootfs'), root, {force: true, recursive: true})
  writeFileSync(path.join(root, 'etc/apt/apt.conf.d/01proxy'), aptProxyConf(options))
  // The lab's updates repository, trusted for its own source line only (signed-by), as a vendor's key is.
  mkdirSync(path.join(root, path.dirname(UPDATES_KEYRING)), {recursive: true})
  await run('sh', ['-c', 'gpg --batch --export "$1" > "$2"', 'sh', recipe.updates.keyFingerprint, path.join(root, UPDATES_KEYRING)], {env: labEnv({GNUPGHOME: gnupgHome})})
  cpSync(path.join(assets, 'customize.sh'), path.join(root, 'tmp/kp-lab-customize.sh'))
  await run('chroot', [root, '/bin/bash', '/tmp/kp-lab-customize.sh'], {env: labEnv({DEBIAN_FRONTEND: 'noninteractive'}), timeoutMs: 10 * 60_000})
  await removeTree(path.join(root, 'tmp/kp-lab-customize.sh'))
  // Only now: customize.sh's apt-get update runs while the lab's repo server may not be up yet.
  writeFileSync(path.join(root, UPDATES_SOURCES_FILE), recipe.updates.sources)
  // Written last: its presence is what marks an image complete.
  writeFileSync(path.join(root, COMPLETE_MARKER), `${JSON.stringify({builtAt: new Date().toISOString(), hash: recipeHash(recipe), recipe}, null, 2)}\n`)
}

/** Removes half-built images whose builder died (debootstrap may have left mounts inside). */
async function removeStaleBuilds(cacheDir: string): Promise<void> {
  for (const name of readdirSync(cacheDir)) {
    const match = /^\.(?:image|base)-[0-9a-f]+\.tmp-(\d+)$/.exec(name)
    if (match && !pidAlive(Number(match[1]))) await removeTree(path.join(cacheDir, name))
  }
}

/**
 * Removes cached images, debootstrap bases and package repositories other than the ones kept,
 * unless a mount uses them (a running VM) or `inUse` names them (the lowers of this lab's VM disks).
 * A recipe change would otherwise leave a few hundred MB behind each time.
 */
export async function pruneCache(cacheDir: string, kinds: ReadonlyArray<'base' | 'image' | 'packages'>, keep: readonly string[], inUse: readonly string[] = []): Promise<string[]> {
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')
  const removed: string[] = []
  for (const name of readdirSync(cacheDir)) {
    const kind = /^(image|base|packages)-[0-9a-f]{16}$/.exec(name)?.[1]
    if (!kind || !kinds.includes(kind as 'image')) continue
    const dir = path.join(cacheDir, name)
    if (keep.includes(dir) || inUse.some((p) => p === dir || p.startsWith(`${dir}/`)) || mountinfo.includes(dir)) continue
    await removeTree(dir)
    removed.push(dir)
  }

  return removed
}
