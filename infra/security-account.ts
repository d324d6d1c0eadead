import { ArnFormat, Duration, Stack, type StackProps, Validations } from 'aws-cdk-lib'
import { Dashboard, GraphWidget, LogQueryWidget, Metric } from 'aws-cdk-lib/aws-cloudwatch'
import { EventBus, type IRuleTarget, Rule } from 'aws-cdk-lib/aws-events'
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets'
import { AnyPrincipal, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam'
import { CfnResourcePolicy, LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs'
import type { Construct } from 'constructs'
import { AUDIT_DETAIL_TYPE, AUDIT_SOURCE, FAILURE_DETAIL_TYPE } from '../handlers/aws/audit.js'
import type { OrganizationSettings } from '../policy/organization-settings.js'
import { CENTRAL_BUS_NAME } from './audit-forwarding.js'
import { handlerFunction } from './lambda-defaults.js'
import { targetDeadLetterQueue } from './target-dead-letter-queue.js'

export interface SecurityAccountStackProps extends StackProps {
  readonly organization: OrganizationSettings
}

/** The kinds of finding the members send, each with its own rule on the central bus. */
export const FINDING_KINDS = {
  LockChanged: {
    detailType: AUDIT_DETAIL_TYPE,
    description: 'a lock changed or left a workload unprotected',
  },
  LockFailed: {
    detailType: FAILURE_DETAIL_TYPE,
    description: 'a lock write failed for good (dead-letter queue)',
  },
} as const

/**
 * Deployed into the security account: the bus every member forwards its audit events to (open to the organisation
 * only), a rule per kind of finding recording into one log group, an org-wide dashboard over it, and, with
 * `securityHub`, a function turning the events into Security Hub findings.
 */
export class SecurityAccountStack extends Stack {
  readonly bus: EventBus
  readonly logGroup: LogGroup
  readonly rules: readonly Rule[]

  constructor(scope: Construct, id: string, props: SecurityAccountStackProps) {
    super(scope, id, {
      description:
        'credential-lock: receives every member account audit event, for findings and one org-wide view',
      ...props,
    })
    const { organization } = props
    this.bus = new EventBus(this, 'CentralBus', { eventBusName: CENTRAL_BUS_NAME })
    this.bus.addToResourcePolicy(
      new PolicyStatement({
        sid: 'OrganisationMembersOnly',
        principals: [new AnyPrincipal()],
        actions: ['events:PutEvents'],
        resources: [this.bus.eventBusArn],
        conditions: { StringEquals: { 'aws:PrincipalOrgID': organization.organizationId } },
      }),
    )
    // EventBridge writes only to log groups named /aws/events/...
    this.logGroup = new LogGroup(this, 'EventLog', {
      logGroupName: `/aws/events/${CENTRAL_BUS_NAME}`,
      retention: RetentionDays.ONE_YEAR,
    })
    new CfnResourcePolicy(this, 'EventLogPolicy', {
      policyName: `${CENTRAL_BUS_NAME}-events`,
      policyDocument: Stack.of(this).toJsonString({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Service: ['events.amazonaws.com', 'delivery.logs.amazonaws.com'] },
            Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
            Resource: `${this.logGroup.logGroupArn}`,
          },
        ],
      }),
    })
    const findings = organization.securityHub ? this.addFindingsFunction() : undefined
    this.rules = Object.entries(FINDING_KINDS).map(
      ([kind, { detailType, description }]) =>
        new Rule(this, `${kind}Rule`, {
          description: `credential-lock: ${description}`,
          eventBus: this.bus,
          eventPattern: { source: [AUDIT_SOURCE], detailType: [detailType] },
          targets: [logGroupTarget(this.logGroup), ...(findings ? [findings] : [])],
        }),
    )
    this.addOrganizationDashboard()
  }

  private addFindingsFunction(): IRuleTarget {
    const logGroup = new LogGroup(this, 'FindingsLogGroup', { retention: RetentionDays.ONE_YEAR })
    const role = new Role(this, 'FindingsRole', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'credential-lock findings: imports and archives its own Security Hub findings',
    })
    const productArn = this.formatArn({
      service: 'securityhub',
      resource: 'product',
      resourceName: `${this.account}/default`,
    })
    role.addToPolicy(
      new PolicyStatement({ actions: ['securityhub:BatchImportFindings'], resources: [productArn] }),
    )
    role.addToPolicy(new PolicyStatement({ actions: ['securityhub:GetFindings'], resources: ['*'] }))
    logGroup.grantWrite(role)
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'securityhub:GetFindings supports no resource-level permission; the function reads only its own findings.',
    })
    const fn = handlerFunction(this, 'Findings', {
      entry: 'handlers/findings/index.ts',
      description:
        'credential-lock findings: member audit events to Security Hub findings, archived when locked again',
      role,
      logGroup,
      timeout: Duration.seconds(30),
      environment: {
        FINDINGS_PRODUCT_ARN: productArn,
        POWERTOOLS_SERVICE_NAME: 'credential-lock-findings',
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
    })
    const undelivered = targetDeadLetterQueue(this, 'UndeliveredFindingsQueue', 'the findings target')
    return new LambdaFunction(fn, {
      deadLetterQueue: undelivered,
      retryAttempts: 185,
      maxEventAge: Duration.hours(24),
    })
  }

  private addOrganizationDashboard(): void {
    const matched = (rule: Rule, label: string) =>
      new Metric({
        namespace: 'AWS/Events',
        metricName: 'MatchedEvents',
        dimensionsMap: { EventBusName: CENTRAL_BUS_NAME, RuleName: rule.ruleName },
        statistic: 'Sum',
        period: Duration.hours(1),
        label,
      })
    const [changed, failed] = this.rules as [Rule, Rule]
    new Dashboard(this, 'OrganizationDashboard', {
      dashboardName: 'credential-lock-organization',
      widgets: [
        [
          new GraphWidget({
            title: 'Audit events from every member',
            left: [matched(changed, 'lock changes'), matched(failed, 'lock failures')],
            width: 24,
          }),
        ],
        [
          new LogQueryWidget({
            title: 'Accounts with workloads left unprotected',
            logGroupNames: [this.logGroup.logGroupName],
            queryLines: [
              'fields account, region, detail.roleName as role, detail.reason as reason',
              "filter `detail-type` = 'Credential Lock Changed' and reason like /skipped|unprotected/",
              'stats count(*) as decisions, latest(reason) as lastReason by account, region, role',
              'sort decisions desc',
              'limit 50',
            ],
            width: 12,
          }),
          new LogQueryWidget({
            title: 'Lock failures by account',
            logGroupNames: [this.logGroup.logGroupName],
            queryLines: [
              "filter `detail-type` = 'Credential Lock Failed'",
              'stats count(*) as failures, latest(detail.error.message) as lastError by account, region',
              'sort failures desc',
            ],
            width: 12,
          }),
        ],
      ],
    })
  }
}

/** A log group target without the custom resource the CDK's own adds: the log group policy is declared above. */
function logGroupTarget(logGroup: LogGroup): IRuleTarget {
  const arn = Stack.of(logGroup).formatArn({
    service: 'logs',
    resource: 'log-group',
    resourceName: logGroup.logGroupName,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  })
  return { bind: () => ({ arn }) }
}
