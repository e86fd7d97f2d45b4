/**
 * The Prometheus text exposition format (version 0.0.4), for node_exporter's textfile collector:
 * every family with HELP and TYPE, gauges only, labels escaped as the format requires. Timestamps
 * are values (kp_health_last_run_timestamp_seconds), never sample timestamps, which the textfile
 * collector refuses.
 */
import {EXIT_CODE, STATUSES, type Status} from '../status.js'
import type {HealthReport} from '../types.js'

type Labels = Record<string, string>

export function escapeLabel(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')
}

function sample(name: string, labels: Labels, value: number): string {
  const text = Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
    .join(',')
  return `${name}{${text}} ${Number.isFinite(value) ? String(value) : 'NaN'}`
}

function family(name: string, help: string, samples: string[]): string[] {
  return samples.length === 0 ? [] : [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, ...samples]
}

const CODES = STATUSES.map((s) => `${EXIT_CODE[s]} ${s}`).join(', ')

export function formatPrometheus(report: HealthReport): string {
  const cluster = {cluster: report.cluster}
  const code = (s: Status) => EXIT_CODE[s]
  const certificates = report.checks.flatMap((c) => (c.certificate ? [c.certificate] : []))
  const backups = report.checks.flatMap((c) => (c.backup ? [c.backup] : []))
  const lines = [
    ...family('kp_health_up', 'Whether kp health could load kp.yaml and run its checks (1), whatever they found, or not (0).', [sample('kp_health_up', cluster, report.up ? 1 : 0)]),
    ...family('kp_health_status', `Overall status, the worst of the checks: ${CODES}.`, [sample('kp_health_status', cluster, code(report.status))]),
    ...family('kp_health_check_status', `Status of one check: ${CODES}.`, report.checks.map((c) => sample('kp_health_check_status', {...cluster, check: c.name}, code(c.status)))),
    ...family('kp_health_check_ok', 'Whether the check is OK (1) or not (0).', report.checks.map((c) => sample('kp_health_check_ok', {...cluster, check: c.name}, c.status === 'OK' ? 1 : 0))),
    ...family('kp_health_check_duration_seconds', 'How long the check took.', report.checks.map((c) => sample('kp_health_check_duration_seconds', {...cluster, check: c.name}, c.durationMs / 1000))),
    ...family(
      'kp_health_certificate_expiry_timestamp_seconds',
      'When the certificate expires, in seconds since the Unix epoch (alert on it minus time()).',
      certificates.map((c) => sample('kp_health_certificate_expiry_timestamp_seconds', {...cluster, certificate: c.name}, Date.parse(c.notAfter) / 1000)),
    ),
    ...family('kp_backup_age_seconds', 'Age of the newest verified etcd backup kp wrote, when there is one (no sample: none).', backups.map((b) => sample('kp_backup_age_seconds', cluster, b.ageSeconds))),
    ...family(
      'kp_backup_last_timestamp_seconds',
      'When the newest verified etcd backup was taken, in seconds since the Unix epoch (alert on time() minus it).',
      backups.map((b) => sample('kp_backup_last_timestamp_seconds', cluster, Math.floor(Date.parse(b.takenAt) / 1000))),
    ),
    ...checkFamilies(report),
    ...family('kp_health_duration_seconds', 'How long the whole run took.', [sample('kp_health_duration_seconds', cluster, report.durationMs / 1000)]),
    ...family('kp_health_timeout_seconds', 'The deadline of the run (--timeout).', [sample('kp_health_timeout_seconds', cluster, report.timeoutMs / 1000)]),
    ...family('kp_health_last_run_timestamp_seconds', 'When this run started, in seconds since the Unix epoch (alert when it gets old: cron stopped).', [
      sample('kp_health_last_run_timestamp_seconds', cluster, Math.floor(Date.parse(report.startedAt) / 1000)),
    ]),
  ]
  return `${lines.join('\n')}\n`
}

/** The checks' own samples, one family per metric name, in the order they first appear. */
function checkFamilies(report: HealthReport): string[] {
  const byName = new Map<string, {help: string; samples: string[]}>()
  for (const m of report.checks.flatMap((c) => c.metrics ?? [])) {
    const entry = byName.get(m.name) ?? {help: m.help, samples: []}
    entry.samples.push(sample(m.name, {cluster: report.cluster, ...m.labels}, m.value))
    byName.set(m.name, entry)
  }

  return [...byName].flatMap(([name, {help, samples}]) => family(name, help, samples))
}
