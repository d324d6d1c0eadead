import { readFileSync } from 'node:fs'
import type { AuditEvent } from '../../handlers/findings/asff.js'

export type AuditFixture =
  | 'credential-lock-changed-unprotected'
  | 'credential-lock-changed-locked'
  | 'credential-lock-failed'

/** A credential-lock audit event as the central bus delivers it (test/fixtures/events/), a fresh copy each call. */
export function loadAuditEvent(name: AuditFixture, changes: Partial<AuditEvent> = {}): AuditEvent {
  const text = readFileSync(new URL(`../fixtures/events/${name}.json`, import.meta.url), 'utf8')
  return { ...(JSON.parse(text) as AuditEvent), ...changes }
}
