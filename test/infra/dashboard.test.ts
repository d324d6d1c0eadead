import { App, type CfnElement, type Stack } from 'aws-cdk-lib'
import { Template } from 'aws-cdk-lib/assertions'
import { beforeAll, describe, expect, it } from 'vitest'
import { CredentialLockStack } from '../../infra/credential-lock-stack.js'
import { SecurityAccountStack } from '../../infra/security-account.js'
import { organizationFrom } from '../../policy/settings.js'

const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] }

interface Widget {
  readonly type: string
  readonly properties: {
    readonly title: string
    readonly metrics?: readonly (readonly unknown[])[]
    readonly query?: string
  }
}

/** The dashboard's widgets, with every token in its body written as its logical ID. */
function widgetsOf(stack: Stack): Widget[] {
  const [dashboard] = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'))
  const body = dashboard?.Properties.DashboardBody
  const text =
    typeof body === 'string'
      ? body
      : (body['Fn::Join'][1] as unknown[])
          .map((part) => (typeof part === 'string' ? part : JSON.stringify(part).replace(/"/g, '')))
          .join('')
  return JSON.parse(text).widgets
}

/** Metric names per widget title (a metric line starts with namespace, name). */
function metricNames(widgets: readonly Widget[]): Record<string, string[]> {
  return Object.fromEntries(
    widgets
      .filter((widget) => widget.type === 'metric')
      .map((widget) => [
        widget.properties.title,
        (widget.properties.metrics ?? []).map((line) => String(line[1])),
      ]),
  )
}

describe('the dashboard of every account and region', () => {
  let stack: CredentialLockStack
  let widgets: Widget[]

  beforeAll(() => {
    stack = new CredentialLockStack(new App({ context: NO_BUNDLING }), 'CredentialLock')
    widgets = widgetsOf(stack)
  })

  it('draws locked vs unprotected, lock writes, failures with dead-letter depth, and decision latency', () => {
    expect(metricNames(widgets)).toEqual({
      'Locked vs unprotected': [
        'InstancesLocked',
        'FunctionsLocked',
        'InstancesUnprotected',
        'FunctionsUnprotected',
      ],
      'Lock writes': ['LocksApplied', 'LocksRemoved'],
      'Failures and dead-letter depth': ['Failures', 'EventsSkipped', 'ApproximateNumberOfMessagesVisible'],
      'Decision latency (event time to lock written)': [
        'DecisionLatency',
        'DecisionLatency',
        'DecisionLatency',
      ],
    })
  })

  it('reads the controller metrics from its namespace, and the latency as p50, p90 and maximum', () => {
    const latency = widgets.find((widget) => widget.properties.title.startsWith('Decision latency'))
    expect(
      latency?.properties.metrics?.map((line) => [line[0], (line.at(-1) as { stat: string }).stat]),
    ).toEqual([
      ['CredentialLock', 'p50'],
      ['CredentialLock', 'p90'],
      ['CredentialLock', 'Maximum'],
    ])
  })

  it('ranks the reasons workloads were left unprotected from the controller log', () => {
    const reasons = widgets.find((widget) => widget.properties.title === 'Top reasons for unprotected')
    expect(reasons?.type).toBe('log')
    expect(reasons?.properties.query).toContain('filter message like /left unprotected/')
    expect(reasons?.properties.query).toContain('stats count(*) as decisions by why')
  })

  it('turns the resync totals the controller logs into the locked-workload gauges', () => {
    const template = Template.fromStack(stack)
    for (const [metric, field] of [
      ['InstancesLocked', 'instancesLocked'],
      ['FunctionsLocked', 'functionsLocked'],
    ]) {
      template.hasResourceProperties('AWS::Logs::MetricFilter', {
        FilterPattern: '{ $.message = "resync totals" }',
        MetricTransformations: [
          { MetricNamespace: 'CredentialLock', MetricName: metric, MetricValue: `$.${field}` },
        ],
      })
    }
  })

  it('is named after its region, since one account holds a stack per region', () => {
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Dashboard', {
      DashboardName: { 'Fn::Join': ['', ['credential-lock-', { Ref: 'AWS::Region' }]] },
    })
  })
})

describe('the dashboard of an account that runs the canary', () => {
  it("shows the canary's history: the lock held, its own calls worked, and seconds from launch to lock", () => {
    // Prepare / Act
    const stack = new CredentialLockStack(new App({ context: NO_BUNDLING }), 'CredentialLock', { canary: {} })

    // Assess
    const canary = widgetsOf(stack).find((widget) => widget.properties.title === 'Stolen-credential canary')
    expect(canary?.properties.metrics?.map((line) => [line[0], line[1]])).toEqual([
      ['CredentialLock', 'CanaryLockHolds'],
      ['CredentialLock', 'CanaryOwnCallsWork'],
      ['CredentialLock', 'CanaryTimeToLock'],
    ])
  })

  it('is drawn only where the canary runs', () => {
    const stack = new CredentialLockStack(new App({ context: NO_BUNDLING }), 'CredentialLock')
    expect(widgetsOf(stack).map((widget) => widget.properties.title)).not.toContain(
      'Stolen-credential canary',
    )
  })
})

describe('the org-wide dashboard of the security account', () => {
  it('counts every member event per kind and queries the central log for unprotected workloads and failures', () => {
    const stack = new SecurityAccountStack(new App({ context: NO_BUNDLING }), 'Security', {
      organization: organizationFrom(
        {
          organizationId: 'o-a1b2c3d4e5',
          organizationalUnitIds: ['r-ab12'],
          regions: ['eu-west-1'],
          securityAccountId: '111122223333',
        },
        'organization',
      ),
      env: { account: '111122223333', region: 'eu-west-1' },
    })
    const widgets = widgetsOf(stack)
    expect(metricNames(widgets)).toEqual({
      'Audit events from every member': ['MatchedEvents', 'MatchedEvents'],
    })
    expect(
      widgets.filter((widget) => widget.type === 'log').map((widget) => widget.properties.title),
    ).toEqual(['Accounts with workloads left unprotected', 'Lock failures by account'])
    const centralLog = stack.getLogicalId(stack.logGroup.node.defaultChild as CfnElement)
    for (const query of widgets.flatMap((widget) => widget.properties.query ?? [])) {
      expect(query).toContain(`SOURCE '{Ref:${centralLog}}'`)
    }
  })
})
