/**
 * Small handler modules on the edges the third mutation pass found unguarded: which refusals count as a role
 * outside a tagged scope, which errors go straight to the dead-letter queue, and how the controller's settings
 * keep the error they came from.
 */
import type { Logger } from '@aws-lambda-powertools/logger'
import type { Metrics } from '@aws-lambda-powertools/metrics'
import { describe, expect, it, vi } from 'vitest'
import { readConfig } from '../handlers/aws/config.js'
import { ConfigError, isPermanent, MissingPermissionError } from '../handlers/aws/errors.js'
import { isOutOfScope, type RoleScope, skippedOutOfScope } from '../handlers/aws/role-scope.js'
import { InvalidFactsError, InvalidSettingError, LockTooLargeError } from '../policy/errors.js'

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

describe('isPermanent: the errors no retry can cure', () => {
  it.each<[string, Error]>([
    ['a missing permission', refused('iam:PutRolePolicy')],
    ['a lock too large for the role', new LockTooLargeError('web', 12_000, 500, 10_240)],
    ['facts EC2 should never produce', new InvalidFactsError('the instance has no state')],
    ['a configuration error', new ConfigError('bad')],
  ])('%s is permanent', (_, error) => {
    // Act
    const permanent = isPermanent(error)

    // Assess
    expect(permanent).toBe(true)
  })

  it.each<[string, unknown]>([
    ['a throttled call', Object.assign(new Error('Rate exceeded'), { name: 'Throttling' })],
    ['a plain error', new Error('boom')],
    ['something thrown that is not an error', 'MissingPermissionError'],
  ])('%s is retried', (_, error) => {
    // Act
    const permanent = isPermanent(error)

    // Assess
    expect(permanent).toBe(false)
  })
})

describe('readConfig: the error behind a refused setting', () => {
  it('a setting the shared checks refuse becomes a ConfigError that keeps their error as its cause', () => {
    // Act
    const read = () => readConfig({ AWS_REGION: 'eu-west-1', MANAGED_POLICY_QUOTA: 'many' })

    // Assess
    expect(read).toThrowError(
      expect.objectContaining({
        name: 'ConfigError',
        message: 'MANAGED_POLICY_QUOTA is "many": give a whole number from 1 to 20.',
        cause: expect.any(InvalidSettingError),
      }),
    )
  })

  it('a failure that is not a refused setting is thrown as it is, not passed off as a configuration mistake', () => {
    // Prepare: an environment whose KNOWN_EGRESS cannot be read at all.
    const failure = new TypeError('the environment could not be read')
    const env = { AWS_REGION: 'eu-west-1' }
    Object.defineProperty(env, 'KNOWN_EGRESS', {
      enumerable: true,
      get: () => {
        throw failure
      },
    })

    // Act
    const read = () => readConfig(env)

    // Assess
    expect(read).toThrowError(failure)
  })
})

describe('readRoleScope through readConfig: ROLE_SCOPE is read trimmed', () => {
  it.each<[string, RoleScope]>([
    [' tagged ', { kind: 'tagged', tag: { key: 'credential-lock-managed', value: 'true' } }],
    ['  ', { kind: 'all' }],
    [' all', { kind: 'all' }],
  ])('ROLE_SCOPE %j is read as its trimmed value', (roleScope, expected) => {
    // Act
    const config = readConfig({ AWS_REGION: 'eu-west-1', ROLE_SCOPE: roleScope })

    // Assess
    expect(config.roleScope).toEqual(expected)
  })
})
