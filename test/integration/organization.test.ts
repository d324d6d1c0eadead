/**
 * Against moto_server, two accounts in one process (moto picks the account per request: the `x-moto-account-id`
 * header set by useMotoAccount, or the access key of an IAM user of that account; see moto's "Multi-Account
 * support"): a member's audit events reach the security account's central bus through the forwarding rule the
 * member stack declares, and the findings function creates, updates and archives Security Hub findings.
 *
 * What moto does and does not do here (moto 5.2.1): it forwards to an event bus of another account and matches
 * the rules' patterns, but it does not evaluate the bus's resource policy (the organisation condition is proven
 * by IAM verdicts in test/infra/organization.test.ts), and the forwarded event carries the central account as
 * `account` where EventBridge keeps the member's. Security Hub's BatchImportFindings and GetFindings are
 * implemented (GetFindings ignores filters); BatchUpdateFindings is not, and the function does not need it.
 */
import type { Logger } from '@aws-lambda-powertools/logger'
import {
  CreateEventBusCommand,
  DescribeEventBusCommand,
  EventBridgeClient,
  PutPermissionCommand,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge'
import { GetFindingsCommand, SecurityHubClient } from '@aws-sdk/client-securityhub'
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs'
import { beforeAll, describe, expect, inject, it, vi } from 'vitest'
import { AUDIT_SOURCE, FAILURE_DETAIL_TYPE, publishAudit } from '../../handlers/aws/audit.js'
import type { AuditEvent } from '../../handlers/findings/asff.js'
import { syncFindings } from '../../handlers/findings/findings.js'
import { CENTRAL_BUS_NAME } from '../../infra/audit-forwarding.js'
import { FINDING_KINDS } from '../../infra/security-account.js'
import { loadAuditEvent } from '../support/audit-events.js'
import { useMotoAccount } from '../support/moto.js'

const REGION = 'us-east-1'
const ORGANIZATION_ID = 'o-a1b2c3d4e5'
const SECURITY = '111111111111'
const MEMBER = '222222222222'
const CENTRAL_BUS_ARN = `arn:aws:events:${REGION}:${SECURITY}:event-bus/${CENTRAL_BUS_NAME}`
const PRODUCT_ARN = `arn:aws:securityhub:${REGION}:${SECURITY}:product/${SECURITY}/default`

function clientsOf(accountId: string) {
  const endpoint = inject('motoEndpoint')
  const config = {
    region: REGION,
    endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  }
  const events = new EventBridgeClient(config)
  const sqs = new SQSClient(config)
  const securityHub = new SecurityHubClient(config)
  for (const client of [events, sqs, securityHub]) useMotoAccount(client, accountId)
  return { events, sqs, securityHub }
}

function quietLogger() {
  return { info: vi.fn(), warn: vi.fn(), error: vi.fn() } as unknown as Logger & {
    warn: ReturnType<typeof vi.fn>
  }
}

/** The security account as its stack builds it: the central bus open to the organisation, a rule per kind. */
async function buildSecurityAccount(security: ReturnType<typeof clientsOf>): Promise<string> {
  await security.events.send(new CreateEventBusCommand({ Name: CENTRAL_BUS_NAME }))
  await security.events.send(
    new PutPermissionCommand({
      EventBusName: CENTRAL_BUS_NAME,
      StatementId: 'OrganisationMembersOnly',
      Action: 'events:PutEvents',
      Principal: '*',
      Condition: { Type: 'StringEquals', Key: 'aws:PrincipalOrgID', Value: ORGANIZATION_ID },
    }),
  )
  const { QueueUrl } = await security.sqs.send(new CreateQueueCommand({ QueueName: 'central-inbox' }))
  const { Attributes } = await security.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
  )
  for (const [kind, { detailType }] of Object.entries(FINDING_KINDS)) {
    await security.events.send(
      new PutRuleCommand({
        Name: `${kind}Rule`,
        EventBusName: CENTRAL_BUS_NAME,
        EventPattern: JSON.stringify({ source: [AUDIT_SOURCE], 'detail-type': [detailType] }),
      }),
    )
    await security.events.send(
      new PutTargetsCommand({
        Rule: `${kind}Rule`,
        EventBusName: CENTRAL_BUS_NAME,
        Targets: [{ Id: 'inbox', Arn: Attributes?.QueueArn }],
      }),
    )
  }
  return QueueUrl as string
}

/** The member's forwarding rule as infra/audit-forwarding.ts declares it. */
async function buildMemberForwarding(member: ReturnType<typeof clientsOf>): Promise<void> {
  await member.events.send(
    new PutRuleCommand({ Name: 'forward-audit', EventPattern: JSON.stringify({ source: [AUDIT_SOURCE] }) }),
  )
  await member.events.send(
    new PutTargetsCommand({
      Rule: 'forward-audit',
      Targets: [
        { Id: 'central', Arn: CENTRAL_BUS_ARN, RoleArn: `arn:aws:iam::${MEMBER}:role/forward-audit` },
      ],
    }),
  )
}

async function received(security: ReturnType<typeof clientsOf>, queueUrl: string): Promise<AuditEvent[]> {
  const { Messages } = await security.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
  )
  return (Messages ?? []).map((message) => JSON.parse(message.Body ?? '{}') as AuditEvent)
}

describe('a member account and the security account in one moto', () => {
  const security = clientsOf(SECURITY)
  const member = clientsOf(MEMBER)
  let inbox: string

  beforeAll(async () => {
    inbox = await buildSecurityAccount(security)
    await buildMemberForwarding(member)
  })

  it('opens the central bus to the organisation only', async () => {
    // Act
    const { Policy } = await security.events.send(new DescribeEventBusCommand({ Name: CENTRAL_BUS_NAME }))

    // Assess
    expect(JSON.parse(Policy ?? '{}').Statement).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        // moto writes the principal "*" as {"AWS":"arn:aws:iam::*:root"}; EventBridge keeps "*".
        Action: 'events:PutEvents',
        Resource: CENTRAL_BUS_ARN,
        Condition: { StringEquals: { 'aws:PrincipalOrgID': ORGANIZATION_ID } },
      }),
    ])
  })

  it("delivers the member controller's audit events to the central bus, each kind through its own rule", async () => {
    // Prepare: the decision line and the parked-record detail the member's controller publishes.
    const decision = loadAuditEvent('credential-lock-changed-unprotected').detail as Record<string, unknown>
    const parked = loadAuditEvent('credential-lock-failed').detail as Record<string, unknown>

    // Act
    await publishAudit(member.events, 'default', decision, quietLogger())
    await publishAudit(member.events, 'default', parked, quietLogger(), FAILURE_DETAIL_TYPE)

    // Assess
    const events = await received(security, inbox)
    expect(events.map((event) => [event.source, event['detail-type']]).sort()).toEqual([
      ['credential-lock', 'Credential Lock Changed'],
      ['credential-lock', 'Credential Lock Failed'],
    ])
    expect(events.find((event) => event['detail-type'] === 'Credential Lock Changed')?.detail).toEqual(
      decision,
    )
  })

  it('creates, updates and archives the Security Hub findings of the security account', async () => {
    // Prepare
    const deps = (at: string) => ({
      securityHub: security.securityHub,
      logger: quietLogger(),
      productArn: PRODUCT_ARN,
      now: () => new Date(at),
    })
    const states = async () =>
      Object.fromEntries(
        ((await security.securityHub.send(new GetFindingsCommand({}))).Findings ?? []).map((finding) => [
          finding.Id?.split('/').slice(-2).join('/'),
          [finding.RecordState, finding.UpdatedAt, finding.CreatedAt],
        ]),
      )

    // Act
    await syncFindings(
      deps('2026-12-07T03:00:05.000Z'),
      loadAuditEvent('credential-lock-changed-unprotected'),
    )
    const created = await states()
    await syncFindings(
      deps('2026-12-07T03:30:05.000Z'),
      loadAuditEvent('credential-lock-changed-unprotected', { time: '2026-12-07T03:30:00Z' }),
    )
    const updated = await states()
    await syncFindings(deps('2026-12-07T04:00:05.000Z'), loadAuditEvent('credential-lock-changed-locked'))
    const archived = await states()

    // Assess
    const first = '2026-12-07T03:00:05.000Z'
    expect(created).toEqual({
      'instance/i-0abcd1234ef567890': ['ACTIVE', first, first],
      'function/resize-images': ['ACTIVE', first, first],
    })
    expect(updated).toEqual({
      'instance/i-0abcd1234ef567890': ['ACTIVE', '2026-12-07T03:30:05.000Z', first],
      'function/resize-images': ['ACTIVE', '2026-12-07T03:30:05.000Z', first],
    })
    expect(archived).toEqual({
      'instance/i-0abcd1234ef567890': ['ARCHIVED', '2026-12-07T04:00:05.000Z', first],
      'function/resize-images': ['ARCHIVED', '2026-12-07T04:00:05.000Z', first],
    })
  })
})
