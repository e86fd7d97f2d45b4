import {readFileSync} from 'node:fs'
import path from 'node:path'

import {packageRoot} from '../package-root.js'
import type {AnyStep, AnyWorkflow} from './types.js'

export interface RunbookSection {
  body: string
  heading: string
}

export interface Runbook {
  /** Everything before the first `##` heading. */
  intro: string
  sections: RunbookSection[]
}

/** Split a runbook on its `##` headings: one per step, in order. */
export function parseRunbook(markdown: string): Runbook {
  const lines = markdown.split('\n')
  const intro: string[] = []
  const sections: RunbookSection[] = []
  let inFence = false
  for (const line of lines) {
    if (line.startsWith('```')) inFence = !inFence
    const heading = !inFence && /^## (?<title>.+?)\s*$/.exec(line)?.groups?.title
    if (heading) sections.push({body: '', heading})
    else if (sections.length === 0) intro.push(line)
    else sections.at(-1)!.body += line + '\n'
  }

  return {intro: intro.join('\n'), sections}
}

/** A workflow's runbook is named after it: runbooks/<name>.md (in the installed package too). */
export function runbookFile(workflow: Pick<AnyWorkflow, 'name' | 'runbookDir'>): string {
  return path.join(workflow.runbookDir ?? path.join(packageRoot(), 'runbooks'), `${workflow.name}.md`)
}

export function readRunbook(workflow: AnyWorkflow): Runbook {
  return parseRunbook(readFileSync(runbookFile(workflow), 'utf8'))
}

/** Where the operator reads about a step: `runbooks/vm-seed.md § Clone the template`. */
export function runbookReference(workflow: AnyWorkflow, step: AnyStep): string {
  return `${displayPath(runbookFile(workflow))} § ${step.title}`
}

export function displayPath(file: string): string {
  const relative = path.relative(packageRoot(), file)
  return relative.startsWith('..') ? file : relative
}

/** Headings that differ from the step titles, in either direction; empty when in step. */
export function runbookDrift(workflow: AnyWorkflow, runbook: Runbook): string[] {
  const titles = workflow.steps.map((s) => s.title)
  const headings = runbook.sections.map((s) => s.heading)
  const problems: string[] = []
  for (const title of titles) if (!headings.includes(title)) problems.push(`step "${title}" has no "## ${title}" heading`)
  for (const heading of headings) if (!titles.includes(heading)) problems.push(`heading "## ${heading}" matches no step`)
  if (problems.length === 0 && titles.join('\n') !== headings.join('\n')) problems.push(`headings are not in step order: expected ${titles.join(' → ')}`)
  return problems
}
