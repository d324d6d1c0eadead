/**
 * The Defenders story, told against moto with the real controller: each chapter changes the world as an
 * operator (or an accident) would, delivers the JSON AWS would send for it, then asks iam-simulate who may
 * use which credentials from where, on the role's real policies read back from moto.
 *
 * The integration tests assert every verdict; `npm run demo` prints them. Both tell the same story.
 */
import type { EC2Client } from '@aws-sdk/client-ec2'
import {
  DeleteRolePolicyCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRolePolicyCommand,
  type IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
} from '@aws-sdk/client-iam'
import type { LambdaClient } from '@aws-sdk/client-lambda'
import type { Context, SQSBatchResponse } from 'aws-lambda'
import type { ControllerEvent } from '../../handlers/controller/lambda.js'
import { lockPolicyName } from '../../policy/lock/index.js'
import type { AwsCallCounter, CallCounts } from './aws-call-counter.js'
import {
  type AnyEventBridgeEvent,
  associateAddress,
  disassociateAddress,
  functionCall,
  scheduled,
  sqsBatch,
  stateChange,
  tagChange,
} from './events.js'
import {
  allowFunctionBasics,
  createFunction,
  functionCredentials,
  LAMBDA_SERVICE_IP,
  PUT_LOG_EVENTS,
  type WorldFunction,
} from './functions.js'
import {
  type ApiCall,
  byLambdaService,
  fromPublicIp,
  type InstanceCredentials,
  type RolePolicy,
  type SimulatedRequest,
  throughEndpoint,
  type Verdict,
  verdict,
} from './simulate.js'
import {
  allocateAndAssociateEip,
  DEFENDERS_APP_POLICY,
  type DefendersWorld,
  disassociateEip,
  OPT_IN_TAG,
  readInstance,
  setOptIn,
  startInstance,
  stopInstance,
  terminateInstance,
  type WorldInstance,
} from './world.js'

/** Jessica's address: wherever she took the credentials to. */
export const THIEF_IP = '203.0.113.66'
const FOREIGN_VPC = 'vpc-0f0e0d0c0b0a09080'
/** Allowed by the role's own inline policy, so a refusal can only come from the lock. */
/** The call the Defenders' own policy allows: a verdict on it shows what the lock adds. */
export const READ_REPORT: ApiCall = {
  action: 's3:GetObject',
  resource: 'arn:aws:s3:::defenders-reports/q3.csv',
}

export type ControllerHandler = (
  event: ControllerEvent,
  context: Pick<Context, 'invokedFunctionArn'>,
) => Promise<SQSBatchResponse | undefined>

export interface StoryDeps {
  readonly world: DefendersWorld
  /** Clients the story acts with, as an operator would. */
  readonly ec2: EC2Client
  readonly iam: IAMClient
  readonly lambda: LambdaClient
  /** The real controller, with its own clients counted by `calls`. */
  readonly handler: ControllerHandler
  readonly calls: AwsCallCounter
  /** Moves the controller's clock forward (tombstone expiry). */
  readonly advanceClock: (ms: number) => void
}

/** One line of the story's table: who uses whose credentials, from where, and what IAM must answer. */
export interface Check {
  readonly who: string
  readonly from: string
  readonly request: SimulatedRequest
  readonly expected: Verdict
  /** Why an expected Allowed is still no harm, shown next to it (IAM policies are not the only check). */
  readonly harmlessBecause?: string
}

export interface CheckResult extends Check {
  readonly actual: Verdict
}

export interface ChapterResult {
  readonly title: string
  readonly eventKind: string
  readonly failedRecords: number
  readonly calls: CallCounts
  readonly results: readonly CheckResult[]
  /** The role's own inline policy is byte-for-byte what the story wrote: the controller never touched it. */
  readonly foreignPolicyUntouched: boolean
  readonly lockChars: number
  /** The controller's lock on the role after the chapter, as IAM holds it; undefined when there is none. */
  readonly lockDocument: string | undefined
  /** Whether the delivery changed the lock: where it did not, a correct controller wrote nothing. */
  readonly lockChanged: boolean
}

export interface Chapter {
  readonly title: string
  /** Why the chapter matters, in one line, for someone watching the demo. */
  readonly explanation: string
  /** What kind of event the controller receives, for the call-budget table. */
  readonly eventKind: string
  /** Changes the world, returns what AWS would deliver (or nothing, for drift no event reports). */
  readonly act: () => Promise<Delivery>
  readonly checks: () => Promise<readonly Check[]>
}

type Delivery =
  | { readonly direct: AnyEventBridgeEvent }
  | { readonly batch: readonly ControllerEvent[] }
  | 'nothing'

/** The chapters, in order; each depends on the ones before it. */
export function defendersStory(deps: StoryDeps): Chapter[] {
  const { world, ec2 } = deps
  const memory = {
    lukeOldIp: '',
    elasticIp: { allocationId: '', associationId: '', publicIp: '' },
    /** When the story last started each instance: moto keeps LaunchTime from the first launch, AWS updates it. */
    startedAt: new Map<string, Date>(),
    reporter: { functionName: '', functionArn: '' } as WorldFunction,
  }
  const read = (who: WorldInstance) => readInstance(ec2, who.instanceId)
  const credentials = (who: WorldInstance): InstanceCredentials => ({
    accountId: world.accountId,
    region: world.region,
    roleName: world.role.roleName,
    instanceId: who.instanceId,
    vpcId: world.vpcId,
    privateIpv4: who.privateIp,
    // The credential IMDS handed out at the instance's latest start.
    issuedAt: memory.startedAt.get(who.instanceId) ?? who.launchedAt,
  })
  const publicCall = (
    who: string,
    owner: WorldInstance,
    fromWhere: string,
    ip: string,
    expected: Verdict,
  ) => ({
    who,
    from: fromWhere,
    request: fromPublicIp(credentials(owner), ip, READ_REPORT),
    expected,
  })
  const endpointCall = (
    who: string,
    owner: WorldInstance,
    vpc: string,
    fromWhere: string,
    expected: Verdict,
  ) => ({
    who,
    from: fromWhere,
    request: throughEndpoint(credentials(owner), { vpc, privateIp: owner.privateIp ?? '' }, READ_REPORT),
    expected,
  })
  /** The table every running chapter ends with: Luke and Danny locked, Matt untouched, Jessica refused. */
  const lockedTable = async (): Promise<Check[]> => {
    const [luke, matt, danny] = await Promise.all([read(world.luke), read(world.matt), read(world.danny)])
    return [
      publicCall(
        "Luke uses Luke's credentials",
        luke,
        `his own IP ${luke.publicIp}`,
        luke.publicIp ?? '',
        'Allowed',
      ),
      endpointCall("Luke uses Luke's credentials", luke, world.vpcId, 'a VPC endpoint in his VPC', 'Allowed'),
      publicCall("Jessica uses Luke's credentials", luke, THIEF_IP, THIEF_IP, 'ExplicitlyDenied'),
      publicCall(
        "Jessica uses Luke's credentials",
        luke,
        `Matt's IP ${matt.publicIp}`,
        matt.publicIp ?? '',
        'ExplicitlyDenied',
      ),
      endpointCall(
        "Jessica uses Luke's credentials",
        luke,
        FOREIGN_VPC,
        'an endpoint in her own VPC',
        'ExplicitlyDenied',
      ),
      publicCall(
        "Danny uses Danny's credentials",
        danny,
        `the NAT gateway ${world.privateSubnet.natPublicIp}`,
        world.privateSubnet.natPublicIp,
        'Allowed',
      ),
      publicCall("Jessica uses Danny's credentials", danny, THIEF_IP, THIEF_IP, 'ExplicitlyDenied'),
      publicCall(
        "Jessica uses Matt's credentials",
        matt,
        `${THIEF_IP} (Matt is not opted in)`,
        THIEF_IP,
        'Allowed',
      ),
    ]
  }
  const batch = (...events: AnyEventBridgeEvent[]) => ({
    batch: [
      sqsBatch(events, {
        queueArn: `arn:aws:sqs:${world.region}:${world.accountId}:credential-lock.fifo`,
        messageGroupId: 'credential-lock',
      }),
    ],
  })

  return [
    {
      title: 'Luke, Matt and Danny launch on the same role',
      explanation:
        'Three running events in one SQS batch: one lock pins Luke and Danny where they are; Matt is not in.',
      eventKind: 'state change (3 in one SQS batch)',
      act: async () =>
        batch(
          stateChange(world.luke.instanceId, 'running'),
          stateChange(world.matt.instanceId, 'running'),
          stateChange(world.danny.instanceId, 'running'),
        ),
      checks: lockedTable,
    },
    {
      title: 'Luke gets an Elastic IP',
      explanation:
        "Luke's public address changes: the lock follows him to the Elastic IP, his old one is refused.",
      eventKind: 'AssociateAddress by instance',
      act: async () => {
        memory.lukeOldIp = (await read(world.luke)).publicIp ?? ''
        memory.elasticIp = await allocateAndAssociateEip(ec2, { instanceId: world.luke.instanceId })
        return {
          direct: associateAddress(
            { instanceId: world.luke.instanceId },
            memory.elasticIp.allocationId,
            memory.elasticIp.associationId,
          ),
        }
      },
      checks: async () => [
        ...(await lockedTable()),
        publicCall(
          "Jessica uses Luke's credentials",
          world.luke,
          `his old IP ${memory.lukeOldIp}`,
          memory.lukeOldIp,
          'ExplicitlyDenied',
        ),
      ],
    },
    {
      title: "Luke's Elastic IP is disassociated",
      explanation:
        "The event names no instance: the controller re-reads every locked one and pins Luke's new IP.",
      eventKind: 'DisassociateAddress',
      act: async () => {
        await disassociateEip(ec2, memory.elasticIp.associationId)
        return { direct: disassociateAddress(memory.elasticIp.associationId) }
      },
      checks: async () => [
        ...(await lockedTable()),
        publicCall(
          "Jessica uses Luke's credentials",
          world.luke,
          `the released Elastic IP ${memory.elasticIp.publicIp}`,
          memory.elasticIp.publicIp,
          'ExplicitlyDenied',
        ),
      ],
    },
    {
      title: "An Elastic IP is associated with Luke's network interface",
      explanation:
        'The event names only a network interface: the controller resolves it to Luke, follows his new IP.',
      eventKind: 'AssociateAddress by network interface',
      act: async () => {
        const eni = (await read(world.luke)).networkInterfaceId ?? ''
        memory.elasticIp = await allocateAndAssociateEip(ec2, { networkInterfaceId: eni })
        return {
          direct: associateAddress(
            { networkInterfaceId: eni },
            memory.elasticIp.allocationId,
            memory.elasticIp.associationId,
          ),
        }
      },
      checks: lockedTable,
    },
    {
      title: 'Luke stops: his old credentials are tombstoned',
      explanation:
        'A stopped instance has no address, yet its credentials stay valid for hours: refused everywhere.',
      eventKind: 'state change',
      act: async () => {
        memory.lukeOldIp = (await read(world.luke)).publicIp ?? ''
        await stopInstance(ec2, world.luke.instanceId)
        return { direct: stateChange(world.luke.instanceId, 'stopped') }
      },
      checks: async () => {
        const luke = await read(world.luke)
        const matt = await read(world.matt)
        return [
          publicCall(
            "Jessica uses Luke's old credentials",
            luke,
            `his last IP ${memory.lukeOldIp}`,
            memory.lukeOldIp,
            'ExplicitlyDenied',
          ),
          endpointCall(
            "Jessica uses Luke's old credentials",
            luke,
            world.vpcId,
            'a VPC endpoint in his VPC',
            'ExplicitlyDenied',
          ),
          publicCall(
            "Matt uses Matt's credentials",
            matt,
            `his own IP ${matt.publicIp}`,
            matt.publicIp ?? '',
            'Allowed',
          ),
        ]
      },
    },
    {
      title: 'Luke starts again with a new IP',
      explanation:
        "Luke's fresh credentials work from his new address; those from before the stop stay refused, even there.",
      eventKind: 'state change',
      act: async () => {
        await startInstance(ec2, world.luke.instanceId)
        // IMDS hands out the first credentials once the instance has booted, seconds after the start.
        memory.startedAt.set(world.luke.instanceId, new Date(Date.now() + 5_000))
        return { direct: stateChange(world.luke.instanceId, 'running') }
      },
      checks: async () => [
        ...(await lockedTable()),
        publicCall(
          "Jessica uses Luke's credentials",
          world.luke,
          `his IP before the stop ${memory.lukeOldIp}`,
          memory.lukeOldIp,
          'ExplicitlyDenied',
        ),
        {
          who: "Jessica uses Luke's credentials from before the stop",
          from: `his new IP ${(await read(world.luke)).publicIp}`,
          request: fromPublicIp(
            { ...credentials(world.luke), issuedAt: world.luke.launchedAt },
            (await read(world.luke)).publicIp ?? '',
            READ_REPORT,
          ),
          expected: 'ExplicitlyDenied' as const,
        },
      ],
    },
    {
      title: "A late, duplicate 'stopped' event arrives for the running Luke",
      explanation:
        'Events arrive at least once, out of order: the controller trusts EC2, not them, and writes nothing.',
      eventKind: 'duplicate/out-of-order state change',
      act: async () =>
        batch(stateChange(world.luke.instanceId, 'stopped'), stateChange(world.luke.instanceId, 'stopped')),
      checks: lockedTable,
    },
    {
      title: 'Luke opts out: his credentials work from anywhere again',
      explanation: 'Removing the opt-in tag takes Luke out of the lock; Danny stays locked.',
      eventKind: 'tag change',
      act: async () => {
        await setOptIn(ec2, world.luke.instanceId, false)
        return { direct: tagChange(world.luke.instanceId, { Name: 'luke' }, [OPT_IN_TAG.key]) }
      },
      checks: async () => [
        publicCall(
          "Jessica uses Luke's credentials",
          world.luke,
          `${THIEF_IP} (Luke opted out)`,
          THIEF_IP,
          'Allowed',
        ),
        publicCall("Jessica uses Danny's credentials", world.danny, THIEF_IP, THIEF_IP, 'ExplicitlyDenied'),
      ],
    },
    {
      title: 'Luke opts back in',
      explanation: 'Adding the tag back locks Luke again, at the address he has now.',
      eventKind: 'tag change',
      act: async () => {
        await setOptIn(ec2, world.luke.instanceId, true)
        return {
          direct: tagChange(world.luke.instanceId, { Name: 'luke', [OPT_IN_TAG.key]: OPT_IN_TAG.value }, [
            OPT_IN_TAG.key,
          ]),
        }
      },
      checks: lockedTable,
    },
    {
      title: 'An operator deletes the lock by hand (no event reports it)',
      explanation: 'No event reports a deleted policy: until the next resync, stolen credentials work again.',
      eventKind: 'none (drift)',
      act: async () => {
        await deps.iam.send(
          new DeleteRolePolicyCommand({
            RoleName: world.role.roleName,
            PolicyName: lockPolicyName(world.region),
          }),
        )
        return 'nothing'
      },
      checks: async () => [
        publicCall(
          "Jessica uses Luke's credentials",
          world.luke,
          `${THIEF_IP} (lock deleted)`,
          THIEF_IP,
          'Allowed',
        ),
      ],
    },
    {
      title: 'The scheduled resync restores it',
      explanation: 'The periodic resync re-reads EC2 and IAM and writes the missing lock back.',
      eventKind: 'scheduled resync',
      act: async () => ({ direct: scheduled() }),
      checks: lockedTable,
    },
    {
      title: 'A malformed event and a ghost instance change nothing',
      explanation:
        'A broken event is skipped and an unknown instance ignored: no write, no record sent back to retry.',
      eventKind: 'malformed + ghost instance',
      act: async () =>
        batch(
          {
            ...scheduled(),
            'detail-type': 'EC2 Instance State-change Notification',
            source: 'aws.ec2',
            detail: { state: 'running' },
          },
          stateChange('i-0123456789abcdef0', 'running'),
        ),
      checks: lockedTable,
    },
    {
      title: 'Reporter, a tagged function behind the NAT, leaks its credentials: Jessica is refused outside',
      explanation:
        "A function's credentials sit in its environment: tagged, it is locked to its subnets' NAT and VPC, " +
        'while Lambda still delivers its logs.',
      eventKind: 'function created',
      act: async () => {
        await allowFunctionBasics(deps.iam, world.role.roleName)
        memory.reporter = await createFunction(deps.lambda, world, {
          name: 'reporter',
          optedIn: true,
          subnetIds: [world.privateSubnet.subnetId],
        })
        return { direct: functionCall('cloudtrail-lambda-create-function', 'reporter', world.accountId) }
      },
      checks: async () => {
        const reporter = functionCredentials(world, memory.reporter)
        const nat = world.privateSubnet.natPublicIp
        const danny = await read(world.danny)
        return [
          {
            who: 'Reporter uses its credentials',
            from: `the NAT gateway ${nat}`,
            request: fromPublicIp(reporter, nat, READ_REPORT),
            expected: 'Allowed',
          },
          {
            who: "Lambda delivers Reporter's logs",
            from: `Lambda's own address ${LAMBDA_SERVICE_IP}`,
            request: byLambdaService(reporter, LAMBDA_SERVICE_IP, PUT_LOG_EVENTS),
            expected: 'Allowed',
          },
          {
            who: "Jessica uses Reporter's credentials",
            from: THIEF_IP,
            request: fromPublicIp(reporter, THIEF_IP, READ_REPORT),
            expected: 'ExplicitlyDenied',
          },
          {
            who: "Jessica uses Reporter's credentials",
            from: 'an endpoint in her own VPC',
            request: throughEndpoint(reporter, { vpc: FOREIGN_VPC, privateIp: '10.0.2.57' }, READ_REPORT),
            expected: 'ExplicitlyDenied',
          },
          publicCall("Danny uses Danny's credentials", danny, `the NAT gateway ${nat}`, nat, 'Allowed'),
        ]
      },
    },
    {
      title: 'Danny is terminated: his credentials stay refused everywhere',
      explanation:
        "A terminated instance's credentials outlive it: its tombstone refuses them anywhere, NAT included.",
      eventKind: 'state change (terminated)',
      act: async () => {
        await terminateInstance(ec2, world.danny.instanceId)
        return { direct: stateChange(world.danny.instanceId, 'terminated') }
      },
      checks: async () => {
        const lukeIp = (await read(world.luke)).publicIp ?? ''
        return [
          publicCall(
            "Jessica uses Danny's old credentials",
            world.danny,
            `the NAT gateway ${world.privateSubnet.natPublicIp}`,
            world.privateSubnet.natPublicIp,
            'ExplicitlyDenied',
          ),
          publicCall(
            "Jessica uses Danny's old credentials",
            world.danny,
            THIEF_IP,
            THIEF_IP,
            'ExplicitlyDenied',
          ),
          publicCall("Luke uses Luke's credentials", world.luke, `his own IP ${lukeIp}`, lukeIp, 'Allowed'),
        ]
      },
    },
    {
      title: "13 hours later, the resync drops Danny's expired tombstone",
      explanation:
        'Instance credentials expire within hours: past the retention the tombstone goes, the lock shrinks.',
      eventKind: 'scheduled resync',
      act: async () => {
        deps.advanceClock(13 * 3_600_000)
        return { direct: scheduled() }
      },
      checks: async () => [
        ...(await lockedTable()).filter((check) => !check.who.includes('Danny')),
        {
          ...publicCall(
            "Jessica uses Danny's expired credentials",
            world.danny,
            THIEF_IP,
            THIEF_IP,
            'Allowed',
          ),
          harmlessBecause: 'AWS refuses expired credentials before any policy is read',
        },
      ],
    },
  ]
}

/** Runs one chapter: act, deliver, then judge every check on the role's real policies. */
export async function runChapter(
  deps: StoryDeps,
  chapter: Chapter,
  foreignPolicy: string,
): Promise<ChapterResult> {
  const delivery = await chapter.act()
  const lockBefore = lockOf(await rolePolicies(deps.iam, deps.world.role.roleName), deps.world.region)
  deps.calls.reset()
  const context = {
    invokedFunctionArn: `arn:aws:lambda:${deps.world.region}:${deps.world.accountId}:function:credential-lock`,
  }
  let failedRecords = 0
  if (delivery !== 'nothing') {
    const events = 'direct' in delivery ? [delivery.direct] : delivery.batch
    for (const event of events) {
      try {
        const response = await deps.handler(event, context)
        failedRecords += response?.batchItemFailures.length ?? 0
      } catch {
        failedRecords += 1
      }
    }
  }
  const calls = deps.calls.snapshot()
  const policies = await rolePolicies(deps.iam, deps.world.role.roleName)
  const results: CheckResult[] = []
  for (const check of await chapter.checks())
    results.push({ ...check, actual: await verdict(policies, check.request) })
  const foreign = policies.find((policy) => policy.name === DEFENDERS_APP_POLICY)
  const lock = lockOf(policies, deps.world.region)
  return {
    title: chapter.title,
    eventKind: chapter.eventKind,
    failedRecords,
    calls,
    results,
    foreignPolicyUntouched: foreign?.document === foreignPolicy,
    lockChars: lock === undefined ? 0 : lock.replace(/\s/g, '').length,
    lockDocument: lock,
    lockChanged: lock !== lockBefore,
  }
}

function lockOf(policies: readonly RolePolicy[], region: string): string | undefined {
  const lock = policies.find((policy) => policy.name === lockPolicyName(region))
  return typeof lock?.document === 'string' ? lock.document : undefined
}

/** The role's real identity policies as IAM (here moto) holds them: inline and attached managed ones. */
export async function rolePolicies(iam: IAMClient, roleName: string): Promise<RolePolicy[]> {
  const policies: RolePolicy[] = []
  for (const name of (await iam.send(new ListRolePoliciesCommand({ RoleName: roleName }))).PolicyNames ??
    []) {
    const inline = await iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: name }))
    policies.push({ name, document: decodeURIComponent(inline.PolicyDocument ?? '{}') })
  }
  const attached = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName }))
  for (const { PolicyArn, PolicyName } of attached.AttachedPolicies ?? []) {
    const managed = await iam.send(new GetPolicyCommand({ PolicyArn }))
    const version = await iam.send(
      new GetPolicyVersionCommand({ PolicyArn, VersionId: managed.Policy?.DefaultVersionId }),
    )
    const document = version.PolicyVersion?.Document ?? '{}'
    policies.push({ name: PolicyName ?? PolicyArn ?? 'managed', document: decodeURIComponent(document) })
  }
  return policies
}

/** The inline policy the world started with, to prove later that the controller never touched it. */
export async function foreignPolicyDocument(iam: IAMClient, world: DefendersWorld): Promise<string> {
  const policies = await rolePolicies(iam, world.role.roleName)
  const foreign = policies.find((policy) => policy.name === DEFENDERS_APP_POLICY)
  if (typeof foreign?.document !== 'string')
    throw new Error('The Defenders world has no foreign inline policy')
  return foreign.document
}
