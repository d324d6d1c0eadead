import { DeleteRolePolicyCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam'
import { type AnyEventBridgeEvent, sqsBatch } from './events.js'
import {
  CONTEXT,
  type MockedAws,
  type MockedWorld,
  mockedHandler,
  QUEUE,
  serveWorld,
} from './mocked-controller.js'

/**
 * One SQS batch at a time through the handler over `aws` (test/support/mocked-controller.ts), and the
 * controller's policy on each role it leaves: for the reconcile engine's tests that judge a batch by what IAM
 * holds after it.
 */
export function batchRunner(aws: MockedAws) {
  /** Serves `world`, runs one SQS batch of `events` through the handler, and returns what it answered. */
  async function runBatch(world: MockedWorld, events: readonly AnyEventBridgeEvent[], dryRun = false) {
    serveWorld(aws, world)
    const { handler, lines } = mockedHandler({ config: { dryRun } })
    const batch = sqsBatch(events, QUEUE)
    const response = await handler(batch, CONTEXT)
    return { response, lines, batch }
  }

  /** The controller's policy on each role after a batch: the world's, then every write and delete in order. */
  function policiesAfter(world: MockedWorld): Map<string, string | undefined> {
    const policies = new Map(Object.entries(world.policies ?? {}) as [string, string | undefined][])
    for (const call of aws.iam.calls()) {
      const command = call.args[0]
      if (command instanceof PutRolePolicyCommand)
        policies.set(command.input.RoleName ?? '', command.input.PolicyDocument)
      if (command instanceof DeleteRolePolicyCommand) policies.set(command.input.RoleName ?? '', undefined)
    }
    return policies
  }

  /** The lock the controller writes for `world` from a clean start: the "before" of a test. */
  async function lockedWorld(
    world: MockedWorld,
    event: AnyEventBridgeEvent,
  ): Promise<Record<string, string>> {
    await runBatch(world, [event])
    return Object.fromEntries(
      [...policiesAfter(world)].flatMap(([role, document]) => (document ? [[role, document]] : [])),
    )
  }

  return { runBatch, policiesAfter, lockedWorld }
}
