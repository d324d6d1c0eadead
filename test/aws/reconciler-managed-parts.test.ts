/**
 * The controller spreading a lock over customer-managed policies (lock v2), against mocked AWS: it writes the
 * parts a fleet needs, leaves them alone when they already say the same, and removes a part no longer needed.
 * The moto fleet story (test/integration/fleet.test.ts) proves this end to end; mutation testing runs without
 * moto.
 */
import {
  AttachRolePolicyCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  DeletePolicyCommand,
  DetachRolePolicyCommand,
  GetPolicyVersionCommand,
  GetRolePolicyCommand,
  ListPoliciesCommand,
  ListPolicyVersionsCommand,
  NoSuchEntityException,
  type Policy,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam'
import { beforeEach, describe, expect, it } from 'vitest'
import { managedPolicyPath } from '../../handlers/aws/iam-roles.js'
import { scheduled, sqsBatch } from '../support/events.js'
import {
  ACCOUNT,
  CONTEXT,
  ec2Instance,
  mockAws,
  mockedHandler,
  POLICY,
  QUEUE,
  REGION,
  serveWorld,
} from '../support/mocked-controller.js'

const aws = mockAws()
const ROLE = 'fleet'
const FLEET = Array.from({ length: 150 }, (_, n) =>
  ec2Instance(`i-0a1b2c3d4e5f6${String(n).padStart(4, '0')}`, ROLE, {
    PublicIpAddress: `198.51.${100 + Math.floor(n / 200)}.${(n % 200) + 10}`,
    PrivateIpAddress: `10.0.1.${n + 10}`,
  }),
)

/** IAM as the controller leaves it: the inline policy and the managed parts it wrote. */
function statefulIam() {
  const inline = new Map<string, string>()
  const parts = new Map<string, { policy: Policy; document: string }>()
  aws.iam.on(PutRolePolicyCommand).callsFake(({ RoleName, PolicyDocument }) => {
    inline.set(RoleName, PolicyDocument)
    return {}
  })
  aws.iam.on(GetRolePolicyCommand).callsFake(({ RoleName, PolicyName }) => {
    const document = PolicyName === POLICY ? inline.get(RoleName) : undefined
    if (document === undefined) throw new NoSuchEntityException({ message: 'not found', $metadata: {} })
    return { RoleName, PolicyName, PolicyDocument: encodeURIComponent(document) }
  })
  aws.iam.on(CreatePolicyCommand).callsFake(({ PolicyName, Path, PolicyDocument }) => {
    const policy = {
      PolicyName,
      Path,
      Arn: `arn:aws:iam::${ACCOUNT}:policy${Path}${PolicyName}`,
      DefaultVersionId: 'v1',
      AttachmentCount: 1,
    }
    parts.set(policy.Arn, { policy, document: PolicyDocument })
    return { Policy: policy }
  })
  aws.iam
    .on(ListPoliciesCommand)
    .callsFake(() => ({ Policies: [...parts.values()].map((part) => part.policy) }))
  aws.iam.on(GetPolicyVersionCommand).callsFake(({ PolicyArn }) => ({
    PolicyVersion: { Document: encodeURIComponent(parts.get(PolicyArn)?.document ?? '') },
  }))
  aws.iam.on(ListPolicyVersionsCommand).resolves({ Versions: [] })
  return { inline, parts }
}

const WRITES = new Set([
  PutRolePolicyCommand.name,
  CreatePolicyCommand.name,
  CreatePolicyVersionCommand.name,
  AttachRolePolicyCommand.name,
  DeletePolicyCommand.name,
])
const writes = () => aws.iam.calls().filter((call) => WRITES.has(call.args[0].constructor.name)).length

beforeEach(() => serveWorld(aws, { roles: [ROLE], instances: FLEET }))

describe('a fleet too large for the inline policy', () => {
  it('gets the precise lock over the inline policy and managed parts under the controller’s path', async () => {
    // Prepare
    const iam = statefulIam()
    const { handler, lines } = mockedHandler()

    // Act
    await handler(sqsBatch([scheduled()], QUEUE), CONTEXT)

    // Assess
    const decision = lines.find((line) => line.message === 'lock decision')?.fields
    expect(decision).toMatchObject({ roleName: ROLE, action: 'put', form: 'precise' })
    expect(decision?.managedPolicies).toBeGreaterThan(0)
    expect(iam.parts.size).toBe(decision?.managedPolicies)
    expect(iam.inline.has(ROLE)).toBe(true)
    expect(aws.iam.commandCalls(CreatePolicyCommand).map((call) => call.args[0].input.PolicyName)).toEqual(
      Array.from({ length: iam.parts.size }, (_, n) => `${ROLE}-${n + 1}`),
    )
    expect(aws.iam.commandCalls(CreatePolicyCommand)[0]?.args[0].input.Path).toBe(managedPolicyPath(REGION))
  })

  it('is left alone when the inline policy and every part already say the same', async () => {
    // Prepare
    statefulIam()
    await mockedHandler().handler(sqsBatch([scheduled()], QUEUE), CONTEXT)
    const before = writes()
    const { handler, lines } = mockedHandler()

    // Act
    await handler(sqsBatch([scheduled()], QUEUE), CONTEXT)

    // Assess
    expect(before).toBeGreaterThan(0)
    expect(writes()).toBe(before)
    expect(lines.find((line) => line.message === 'lock decision')?.fields).toMatchObject({
      action: 'unchanged',
    })
  })

  it('loses the parts it no longer needs when the fleet shrinks', async () => {
    // Prepare
    const iam = statefulIam()
    await mockedHandler().handler(sqsBatch([scheduled()], QUEUE), CONTEXT)
    const written = iam.parts.size
    serveWorld(aws, { roles: [ROLE], instances: FLEET.slice(0, 3) })
    const kept = statefulIamFrom(iam)
    const { handler } = mockedHandler()

    // Act
    await handler(sqsBatch([scheduled()], QUEUE), CONTEXT)

    // Assess
    expect(
      aws.iam
        .commandCalls(DetachRolePolicyCommand)
        .map((call) => call.args[0].input.PolicyArn)
        .sort(),
    ).toEqual([...kept].sort())
    expect(aws.iam.commandCalls(DeletePolicyCommand)).toHaveLength(written)
  })
})

/** Serves again, after serveWorld reset the mocks, what a first run wrote; returns the parts' ARNs. */
function statefulIamFrom(previous: ReturnType<typeof statefulIam>): string[] {
  const next = statefulIam()
  for (const [role, document] of previous.inline) next.inline.set(role, document)
  for (const [arn, part] of previous.parts) next.parts.set(arn, part)
  return [...previous.parts.keys()]
}
