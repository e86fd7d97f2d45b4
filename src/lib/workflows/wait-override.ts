/**
 * Tests shorten a workflow's long waits (a reboot, a node Ready, the workloads back) through one
 * environment variable per workflow; operators have no need to.
 */
export function waitOverride(envName: string, fallback: number): number {
  const override = Number(process.env[envName])
  return Number.isFinite(override) && override > 0 ? override : fallback
}
