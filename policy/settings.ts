/**
 * Settings the lock draws on that a deployer writes by hand: checked the same way at synth (infra/) and at the
 * controller's cold start (handlers/aws/config.ts), so a mistake fails before anything is deployed.
 */

import { InvalidSettingError } from './errors.js'

export { type OrganizationSettings, organizationFrom } from './organization-settings.js'

/** IAM action names: `service:Action`, wildcards allowed in the action part, never a bare `*`. */
const ACTION = /^[a-z0-9-]+:[A-Za-z0-9*?]+$/
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/
const EXPECTED_ACTIONS =
  'give a JSON object from role names to lists of actions, such as {"web-role":["s3:GetObject"]}'

/**
 * Per role, the actions its address statements do not refuse (presigned URLs handed to browsers are used from
 * the browser's address). Accepts the parsed object or its JSON text.
 */
export function exemptActionsFrom(value: unknown, setting: string): Map<string, readonly string[]> {
  let parsed = value
  if (typeof value === 'string') {
    if (value.trim() === '') return new Map()
    try {
      parsed = JSON.parse(value)
    } catch {
      throw new InvalidSettingError(`${setting} is not JSON: ${EXPECTED_ACTIONS}.`)
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidSettingError(`${setting} is ${JSON.stringify(parsed)}: ${EXPECTED_ACTIONS}.`)
  }
  return new Map(
    Object.entries(parsed).map(([roleName, actions]) => {
      const valid =
        ROLE_NAME.test(roleName) &&
        Array.isArray(actions) &&
        actions.length > 0 &&
        actions.every((action) => typeof action === 'string' && ACTION.test(action))
      if (!valid) {
        throw new InvalidSettingError(
          `${setting} for role ${roleName} is ${JSON.stringify(actions)}: ${EXPECTED_ACTIONS}.`,
        )
      }
      return [roleName, [...new Set(actions as string[])].sort()]
    }),
  )
}

/** How many managed policies a role may carry in all: IAM's quota, 10 unless the account raised it (at most 20). */
export function managedPolicyQuotaFrom(value: unknown, setting: string): number {
  const parsed = typeof value === 'string' ? Number(value) : value
  if (typeof parsed !== 'number' || !Number.isInteger(parsed) || parsed < 1 || parsed > 20) {
    throw new InvalidSettingError(`${setting} is "${String(value)}": give a whole number from 1 to 20.`)
  }
  return parsed
}
