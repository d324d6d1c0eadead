/** Which refusals count as a role outside a tagged scope, and how such a role is logged and counted as skipped. */
import type { Logger } from '@aws-lambda-powertools/logger'
import type { Metrics } from '@aws-lambda-powertools/metrics'
import { describe, expect, it, vi } from 'vitest'
import { MissingPermissionError } from '../../handlers/aws/errors.js'
import { isOutOfScope, type RoleScope, skippedOutOfScope } from '../../handlers/aws/role-scope.js'

const TAGGED: RoleScope = { kind: 'tagged', tag: { key: 'credential-lock-managed', value: 'true' } }
const EVERY_ROLE: RoleScope = { kind: 'all' }
const SCOPED_WRITES = [
  'iam:PutRolePolicy',
  'iam:DeleteRolePolicy',
  'iam:AttachRolePolicy',
  'iam:DetachRolePolicy',
]

function refused(action: string): MissingPermissionError {
  return new MissingPermissionError(action, 'role web', {
    cause: Object.assign(new Error('no'), { name: 'AccessDenied' }),
  })
}

/** The controller's logger and metrics, as fakes that record what the skip reported. */
function skipDeps(roleScope: RoleScope) {
  const info = vi.fn()
  const addMetric = vi.fn()
  return {
    deps: {
      logger: { info } as unknown as Logger,
      metrics: { addMetric } as unknown as Metrics,
      config: { dryRun: false, roleScope },
    },
    info,
    addMetric,
  }
}

describe('isOutOfScope: the writes a tagged scope limits', () => {
  it.each(SCOPED_WRITES)('a refused %s in a tagged scope is a role out of scope', (action) => {
    // Act
    const outOfScope = isOutOfScope(TAGGED, refused(action))

    // Assess
    expect(outOfScope).toBe(true)
  })

  it.each(SCOPED_WRITES)('a refused %s with every role in scope stays a missing permission', (action) => {
    // Act
    const outOfScope = isOutOfScope(EVERY_ROLE, refused(action))

    // Assess
    expect(outOfScope).toBe(false)
  })

  it('a refused read in a tagged scope stays a missing permission', () => {
    // Act
    const outOfScope = isOutOfScope(TAGGED, refused('iam:GetRolePolicy'))

    // Assess
    expect(outOfScope).toBe(false)
  })
})

describe('skippedOutOfScope: only a refusal outside the scope is a skip', () => {
  it('a role outside a tagged scope is logged as skipped, with how to bring it in, and counted', () => {
    // Prepare
    const { deps, info, addMetric } = skipDeps(TAGGED)

    // Act
    const skipped = skippedOutOfScope(deps, 'web', ['event-1'], refused('iam:PutRolePolicy'))

    // Assess
    expect(skipped).toBe(true)
    expect(info).toHaveBeenCalledWith('lock decision', {
      roleName: 'web',
      action: 'skipped',
      dryRun: false,
      reason: 'role web is out of scope: tag it credential-lock-managed=true to let credential-lock lock it',
      eventIds: ['event-1'],
    })
    expect(addMetric).toHaveBeenCalledWith('RolesOutOfScope', 'Count', 1)
  })

  it.each<[string, RoleScope, unknown]>([
    [
      'another failure in a tagged scope',
      TAGGED,
      Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }),
    ],
    ['a refused read in a tagged scope', TAGGED, refused('iam:GetRolePolicy')],
    ['a refused write with every role in scope', EVERY_ROLE, refused('iam:PutRolePolicy')],
  ])('%s is no skip: nothing is logged or counted', (_, roleScope, error) => {
    // Prepare
    const { deps, info, addMetric } = skipDeps(roleScope)

    // Act
    const skipped = skippedOutOfScope(deps, 'web', ['event-1'], error)

    // Assess
    expect(skipped).toBe(false)
    expect(info).not.toHaveBeenCalled()
    expect(addMetric).not.toHaveBeenCalled()
  })
})
