import { Logger } from '@aws-lambda-powertools/logger'
import type { LogItemExtraInput, LogItemMessage } from '@aws-lambda-powertools/logger/types'
import { Metrics } from '@aws-lambda-powertools/metrics'
import { type EC2Client, type Instance, paginateDescribeInstances } from '@aws-sdk/client-ec2'
import {
  DescribeClusterCommand,
  DescribeNodegroupCommand,
  type EKSClient,
  paginateListClusters,
  paginateListNodegroups,
} from '@aws-sdk/client-eks'
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge'
import type { IAMClient } from '@aws-sdk/client-iam'
import type { LambdaClient } from '@aws-sdk/client-lambda'
import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts'
import { ACTIVE_STATES, type InstanceState, isOptedIn, lockPolicyName } from '../../policy/lock/index.js'
import { optInNearMiss } from '../../policy/opt-in-tag.js'
import { mapLimited } from '../aws/concurrency.js'
import type { ControllerConfig } from '../aws/config.js'
import { asPermitted, MissingPermissionError } from '../aws/errors.js'
import { instanceProfileRoles, otherInlinePolicyChars } from '../aws/iam-roles.js'
import { type DecisionLine, reconcileBatch } from '../aws/reconciler.js'
import { buildPlanReport, type EksCluster, type PlanInstance, type PlanReport } from './plan-report.js'

export interface PlanClients {
  readonly ec2: EC2Client
  readonly iam: IAMClient
  readonly sts: STSClient
  readonly eks: EKSClient
  readonly lambda: LambdaClient
  /** Handed to the controller, which never calls it in a dry run. */
  readonly events: EventBridgeClient
}

export interface PlanOptions {
  /** Answer "what if every instance with an instance profile opted in". */
  readonly everyInstanceOptedIn: boolean
  readonly now: Date
}

/** The tags EKS and its tools put on node instances, naming the cluster. */
const EKS_CLUSTER_TAGS = ['eks:cluster-name', 'aws:eks:cluster-name']
const KUBERNETES_CLUSTER_TAG = /^kubernetes\.io\/cluster\/(.+)$/
/** Calls at once per service: quick on an account with hundreds of roles, gentle on its rate limits. */
const READS_IN_FLIGHT = 4

/**
 * What the controller would write on every role of the account, and what it cannot protect. The decisions
 * are the controller's own: its reconcileBatch, run dry on a scheduled resync. Only reads AWS.
 */
export async function planAccount(
  clients: PlanClients,
  config: ControllerConfig,
  options: PlanOptions,
): Promise<PlanReport> {
  const scope = await callerScope(clients.sts)
  const decisions: DecisionLine[] = []
  const logger = new FailureCollectingLogger()
  await reconcileBatch(
    {
      ...clients,
      logger,
      metrics: new UnpublishedMetrics({ namespace: 'CredentialLock', serviceName: 'credential-lock-plan' }),
      config: { ...config, dryRun: true, everyInstanceOptedIn: options.everyInstanceOptedIn },
      now: () => options.now,
      onDecision: (line) => decisions.push(line),
    },
    [{ recordId: 'plan', body: scheduledResync(scope.accountId, config.region, options.now) }],
    scope,
  )
  // Without the account's truth there is no plan; a permission missing for one role is missing for all.
  const fatal = logger.failures.find(
    (f) => f.roleName === undefined || f.error instanceof MissingPermissionError,
  )
  if (fatal) throw fatal.error

  const [instances, clusters, otherInlineChars] = await Promise.all([
    readInstances(clients, config.lockTag),
    readEksClusters(clients.eks),
    readOtherInlineChars(clients.iam, config.region, decisions),
  ])
  return buildPlanReport({
    accountId: scope.accountId,
    region: config.region,
    lockTag: config.lockTag,
    everyInstanceOptedIn: options.everyInstanceOptedIn,
    decisions,
    failures: logger.failures.flatMap(({ roleName, error }) =>
      roleName === undefined ? [] : [{ roleName, message: error.message }],
    ),
    instances,
    clusters,
    otherInlineChars,
  })
}

/** The partition and account every instance ARN is built from: the caller's own. */
export async function callerScope(sts: STSClient): Promise<{ partition: string; accountId: string }> {
  const identity = await asPermitted('sts:GetCallerIdentity', '*', () =>
    sts.send(new GetCallerIdentityCommand({})),
  )
  const [, partition] = (identity.Arn ?? '').split(':')
  if (!partition || !identity.Account)
    throw new Error('STS GetCallerIdentity named no account and partition.')
  return { partition, accountId: identity.Account }
}

/** The event EventBridge sends on every resync: it makes the controller look at every instance role. */
export function scheduledResync(accountId: string, region: string, now: Date) {
  return {
    version: '0',
    id: `plan-${now.getTime()}`,
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: accountId,
    time: now.toISOString(),
    region,
    resources: [],
    detail: {},
  }
}

/** Keeps the controller's errors for the report instead of printing them: the plan prints one report. */
class FailureCollectingLogger extends Logger {
  readonly failures: { readonly roleName: string | undefined; readonly error: Error }[] = []

  constructor() {
    super({ serviceName: 'credential-lock-plan', logLevel: 'SILENT' })
  }

  override error(input: LogItemMessage, ...extraInput: LogItemExtraInput): void {
    for (const extra of extraInput) {
      if (typeof extra === 'object' && extra !== null && 'error' in extra && extra.error instanceof Error) {
        const roleName = typeof extra.roleName === 'string' ? extra.roleName : undefined
        this.failures.push({ roleName, error: extra.error })
      }
    }
    super.error(input, ...extraInput)
  }
}

/** A dry run of a what-if is no signal for the controller's dashboards: nothing is published. */
class UnpublishedMetrics extends Metrics {
  override publishStoredMetrics(): this {
    this.clearMetrics()
    return this
  }
}

/** Every instance with its role, opt-in, metadata options and EKS cluster, in one read-only pass. */
async function readInstances(
  clients: PlanClients,
  lockTag: ControllerConfig['lockTag'],
): Promise<PlanInstance[]> {
  const profileRoles = await instanceProfileRoles(clients.iam)
  const instances: PlanInstance[] = []
  await asPermitted('ec2:DescribeInstances', '*', async () => {
    for await (const page of paginateDescribeInstances({ client: clients.ec2 }, {})) {
      for (const reservation of page.Reservations ?? []) {
        for (const instance of reservation.Instances ?? []) {
          instances.push(planInstance(instance, profileRoles, lockTag))
        }
      }
    }
  })
  return instances
}

function planInstance(
  instance: Instance,
  profileRoles: ReadonlyMap<string, string>,
  lockTag: ControllerConfig['lockTag'],
): PlanInstance {
  const tags = instance.Tags ?? []
  const metadata = instance.MetadataOptions
  return {
    instanceId: instance.InstanceId ?? '',
    roleName: profileRoles.get(instance.IamInstanceProfile?.Arn ?? ''),
    running: ACTIVE_STATES.has(instance.State?.Name as InstanceState),
    optedIn: isOptedIn(tags, lockTag),
    optInNearMiss: optInNearMiss(tags, lockTag),
    imdsV1Allowed: metadata?.HttpEndpoint !== 'disabled' && metadata?.HttpTokens !== 'required',
    eksClusterName:
      tags.find((tag) => EKS_CLUSTER_TAGS.includes(tag.Key ?? ''))?.Value ??
      tags.flatMap((tag) => KUBERNETES_CLUSTER_TAG.exec(tag.Key ?? '')?.[1] ?? [])[0],
  }
}

async function readEksClusters(eks: EKSClient): Promise<EksCluster[]> {
  const names: string[] = []
  await asPermitted('eks:ListClusters', '*', async () => {
    for await (const page of paginateListClusters({ client: eks }, {})) names.push(...(page.clusters ?? []))
  })
  return mapLimited(names, READS_IN_FLIGHT, async (clusterName) => {
    const { cluster } = await asPermitted('eks:DescribeCluster', `cluster ${clusterName}`, () =>
      eks.send(new DescribeClusterCommand({ name: clusterName })),
    )
    const vpc = cluster?.resourcesVpcConfig
    return {
      clusterName,
      // EKS creates clusters with a public endpoint unless told otherwise.
      publicEndpoint: vpc?.endpointPublicAccess !== false,
      publicAccessCidrs: vpc?.publicAccessCidrs ?? [],
      nodeRoleNames: await nodeRoleNames(eks, clusterName),
    }
  })
}

async function nodeRoleNames(eks: EKSClient, clusterName: string): Promise<string[]> {
  const roleNames: string[] = []
  await asPermitted('eks:ListNodegroups', `cluster ${clusterName}`, async () => {
    for await (const page of paginateListNodegroups({ client: eks }, { clusterName })) {
      for (const nodegroupName of page.nodegroups ?? []) {
        const { nodegroup } = await asPermitted('eks:DescribeNodegroup', `node group ${nodegroupName}`, () =>
          eks.send(new DescribeNodegroupCommand({ clusterName, nodegroupName })),
        )
        // A role ARN may carry a path (role/path/name): the name is its last part.
        const roleName = nodegroup?.nodeRole?.split('/').pop()
        if (roleName) roleNames.push(roleName)
      }
    }
  })
  return roleNames
}

/** The other inline policies share the budget; the controller reads them only when IAM refuses a write. */
async function readOtherInlineChars(
  iam: IAMClient,
  region: string,
  decisions: readonly DecisionLine[],
): Promise<Map<string, number>> {
  const roleNames = decisions.flatMap((d) => (d.form === undefined ? [] : [d.roleName]))
  const chars = await mapLimited(roleNames, READS_IN_FLIGHT, (roleName) =>
    otherInlinePolicyChars(iam, roleName, lockPolicyName(region)),
  )
  return new Map(roleNames.map((roleName, index) => [roleName, chars[index] ?? 0]))
}
