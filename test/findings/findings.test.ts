import type { Logger } from '@aws-lambda-powertools/logger'
import {
  type AwsSecurityFinding,
  BatchImportFindingsCommand,
  GetFindingsCommand,
  SecurityHubClient,
} from '@aws-sdk/client-securityhub'
import { mockClient } from 'aws-sdk-client-mock'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { FindingsImportError, syncFindings } from '../../handlers/findings/findings.js'
import { loadAuditEvent } from '../support/audit-events.js'

const SECURITY_ACCOUNT = '111122223333'
const PRODUCT_ARN = `arn:aws:securityhub:us-east-1:${SECURITY_ACCOUNT}:product/${SECURITY_ACCOUNT}/default`
const NOW = new Date('2026-12-07T05:00:00.000Z')
const SKIPPED_INSTANCE = 'credential-lock/123456789012/us-east-1/instance/i-0abcd1234ef567890'
const SKIPPED_FUNCTION = 'credential-lock/123456789012/us-east-1/function/resize-images'
const PARKED_EVENT = 'credential-lock/123456789012/us-east-1/lock-failed/0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f'

const securityHub = mockClient(SecurityHubClient)

function findingsDeps() {
  const logger = { info: vi.fn(), warn: vi.fn() }
  return {
    deps: {
      securityHub: new SecurityHubClient({}),
      logger: logger as unknown as Logger,
      productArn: PRODUCT_ARN,
      now: () => NOW,
    },
    logger,
  }
}

/** Security Hub already holds these findings (answering every GetFindings with them, filters ignored, as moto does). */
function holding(...findings: Partial<AwsSecurityFinding>[]): void {
  securityHub.on(GetFindingsCommand).resolves({ Findings: findings as AwsSecurityFinding[] })
}

function imported(): AwsSecurityFinding[] {
  return securityHub
    .commandCalls(BatchImportFindingsCommand)
    .flatMap((call) => call.args[0].input.Findings ?? [])
}

beforeEach(() => {
  securityHub.reset()
  securityHub.on(BatchImportFindingsCommand).resolves({ SuccessCount: 1, FailedCount: 0 })
  holding()
})

describe('an instance or function left unprotected', () => {
  it('becomes an active finding of the importing account, naming the member account and the resource', async () => {
    // Prepare
    const { deps } = findingsDeps()

    // Act
    await syncFindings(deps, loadAuditEvent('credential-lock-changed-unprotected'))

    // Assess
    expect(imported().map((finding) => [finding.Id, finding.RecordState])).toEqual([
      [SKIPPED_INSTANCE, 'ACTIVE'],
      [SKIPPED_FUNCTION, 'ACTIVE'],
    ])
    expect(imported()[0]).toEqual({
      SchemaVersion: '2018-10-08',
      Id: SKIPPED_INSTANCE,
      ProductArn: PRODUCT_ARN,
      GeneratorId: 'credential-lock/unprotected',
      AwsAccountId: SECURITY_ACCOUNT,
      Types: ['Software and Configuration Checks/AWS Security Best Practices'],
      CreatedAt: NOW.toISOString(),
      UpdatedAt: NOW.toISOString(),
      FirstObservedAt: '2026-12-07T03:00:00Z',
      LastObservedAt: '2026-12-07T03:00:00Z',
      Severity: { Label: 'HIGH' },
      FindingProviderFields: {
        Severity: { Label: 'HIGH' },
        Types: ['Software and Configuration Checks/AWS Security Best Practices'],
      },
      Title: 'credential-lock could not lock instance i-0abcd1234ef567890',
      Description: expect.stringContaining('egress address is unknown'),
      Region: 'us-east-1',
      Resources: [
        {
          Type: 'AwsEc2Instance',
          Id: 'arn:aws:ec2:us-east-1:123456789012:instance/i-0abcd1234ef567890',
          Region: 'us-east-1',
        },
      ],
      ProductFields: {
        'credential-lock/memberAccount': '123456789012',
        'credential-lock/region': 'us-east-1',
        'credential-lock/roleName': 'web',
      },
      RecordState: 'ACTIVE',
    })
  })

  it('updates the finding it already has, keeping when it was first seen', async () => {
    // Prepare
    holding({
      Id: SKIPPED_INSTANCE,
      RecordState: 'ACTIVE',
      CreatedAt: '2026-12-01T00:00:00.000Z',
      FirstObservedAt: '2026-12-01T00:00:00Z',
    })
    const { deps } = findingsDeps()

    // Act
    await syncFindings(deps, loadAuditEvent('credential-lock-changed-unprotected'))

    // Assess
    expect(imported()[0]).toMatchObject({
      Id: SKIPPED_INSTANCE,
      CreatedAt: '2026-12-01T00:00:00.000Z',
      FirstObservedAt: '2026-12-01T00:00:00Z',
      UpdatedAt: NOW.toISOString(),
      LastObservedAt: '2026-12-07T03:00:00Z',
      RecordState: 'ACTIVE',
    })
  })

  it('asks only for its own active findings, twenty ids per filter', async () => {
    // Prepare
    const { deps } = findingsDeps()
    const instances = Array.from({ length: 25 }, (_, index) => ({
      instanceId: `i-0abcd1234ef5678${String(index).padStart(2, '0')}`,
      outcome: 'skipped',
      reason: 'egress unknown',
    }))

    // Act
    await syncFindings(
      deps,
      loadAuditEvent('credential-lock-changed-unprotected', { detail: { roleName: 'web', instances } }),
    )

    // Assess
    const filters = securityHub.commandCalls(GetFindingsCommand).map((call) => call.args[0].input.Filters)
    expect(filters.map((filter) => filter?.Id?.length)).toEqual([20, 5])
    expect(filters[0]?.ProductArn).toEqual([{ Value: PRODUCT_ARN, Comparison: 'EQUALS' }])
    expect(filters[0]?.RecordState).toEqual([{ Value: 'ACTIVE', Comparison: 'EQUALS' }])
    expect(imported()).toHaveLength(25)
  })
})

describe('a workload locked again', () => {
  it('has its active finding archived, and no finding made where there was none', async () => {
    // Prepare: the instance had a finding, the function had none.
    holding({ Id: SKIPPED_INSTANCE, RecordState: 'ACTIVE', CreatedAt: '2026-12-07T03:00:01.000Z' })
    const { deps, logger } = findingsDeps()

    // Act
    await syncFindings(deps, loadAuditEvent('credential-lock-changed-locked'))

    // Assess
    expect(imported().map((finding) => [finding.Id, finding.RecordState, finding.CreatedAt])).toEqual([
      [SKIPPED_INSTANCE, 'ARCHIVED', '2026-12-07T03:00:01.000Z'],
    ])
    expect(logger.info).toHaveBeenCalledWith(
      'findings synced',
      expect.objectContaining({ archived: [SKIPPED_INSTANCE] }),
    )
  })

  it('ignores archived findings and findings of other ids an emulator hands back unfiltered', async () => {
    // Prepare
    holding(
      { Id: SKIPPED_INSTANCE, RecordState: 'ARCHIVED' },
      { Id: 'credential-lock/999999999999/us-east-1/instance/i-0fedc4321ba987650', RecordState: 'ACTIVE' },
    )
    const { deps } = findingsDeps()

    // Act
    await syncFindings(deps, loadAuditEvent('credential-lock-changed-locked'))

    // Assess
    expect(securityHub.commandCalls(BatchImportFindingsCommand)).toHaveLength(0)
  })
})

describe('a lock that failed for good', () => {
  it('becomes an active finding, archived by a later decision that reconciles the same event', async () => {
    // Prepare
    const { deps } = findingsDeps()
    await syncFindings(deps, loadAuditEvent('credential-lock-failed'))
    const parked = imported()
    securityHub.resetHistory()
    holding({ ...parked[0], CreatedAt: NOW.toISOString() })

    // Act
    await syncFindings(deps, loadAuditEvent('credential-lock-changed-locked'))

    // Assess
    expect(parked.map((finding) => [finding.Id, finding.RecordState, finding.Severity?.Label])).toEqual([
      [PARKED_EVENT, 'ACTIVE', 'MEDIUM'],
    ])
    expect(imported().map((finding) => [finding.Id, finding.RecordState])).toEqual([
      [PARKED_EVENT, 'ARCHIVED'],
    ])
  })

  it('stays active when the decision naming the event was made in the same second as the failure', async () => {
    // Prepare: one batch can log a role's decision and park the same event for another role.
    holding({ Id: PARKED_EVENT, RecordState: 'ACTIVE', LastObservedAt: '2026-12-07T04:00:00Z' })
    const { deps } = findingsDeps()

    // Act
    await syncFindings(deps, loadAuditEvent('credential-lock-changed-locked'))

    // Assess
    expect(imported().map((finding) => finding.Id)).not.toContain(PARKED_EVENT)
  })
})

describe('what goes wrong', () => {
  it('logs an unreadable event and changes no finding', async () => {
    // Prepare
    const { deps, logger } = findingsDeps()

    // Act
    await syncFindings(deps, loadAuditEvent('credential-lock-failed', { 'detail-type': 'Something Else' }))

    // Assess
    expect(logger.warn).toHaveBeenCalledWith('event skipped', {
      eventId: '8c3e4f50-6d7e-8f90-a1b2-c3d4e5f60718',
      reason: expect.stringContaining('not an audit event'),
    })
    expect(securityHub.calls()).toHaveLength(0)
  })

  it('throws a named error when Security Hub refuses a finding, so EventBridge retries the event', async () => {
    // Prepare
    securityHub.on(BatchImportFindingsCommand).resolves({
      SuccessCount: 1,
      FailedCount: 1,
      FailedFindings: [{ Id: SKIPPED_FUNCTION, ErrorCode: 'InvalidInput', ErrorMessage: 'bad' }],
    })
    const { deps } = findingsDeps()

    // Act
    const sync = syncFindings(deps, loadAuditEvent('credential-lock-changed-unprotected'))

    // Assess
    await expect(sync).rejects.toThrow(FindingsImportError)
    await expect(sync).rejects.toThrow('Security Hub refused 1 of 2 findings')
  })

  it('refuses a product ARN that is not a default custom integration', async () => {
    // Prepare
    const { deps } = findingsDeps()

    // Act
    const sync = syncFindings(
      { ...deps, productArn: 'arn:aws:securityhub:us-east-1::product/aws/guardduty' },
      loadAuditEvent('credential-lock-failed'),
    )

    // Assess
    await expect(sync).rejects.toThrow('is not a default custom integration ARN')
  })
})
