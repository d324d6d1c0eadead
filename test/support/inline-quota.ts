import {
  GetRolePolicyCommand,
  type IAMClient,
  LimitExceededException,
  ListRolePoliciesCommand,
  type PutRolePolicyCommandInput,
} from '@aws-sdk/client-iam'
import { INLINE_POLICY_BUDGET, policyChars } from '../../policy/lock/index.js'

/**
 * moto accepts inline policies far beyond IAM's quota; real IAM refuses a PutRolePolicy that takes a role's
 * inline policies past 10,240 characters with LimitExceeded. This middleware gives `client` that refusal,
 * reading the role's other inline policies through `reader` (a client the call counter does not see).
 */
export function enforceInlineQuota(client: IAMClient, reader: IAMClient): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'PutRolePolicyCommand') {
        const input = args.input as PutRolePolicyCommandInput
        const names = (await reader.send(new ListRolePoliciesCommand({ RoleName: input.RoleName })))
          .PolicyNames
        let chars = policyChars(input.PolicyDocument ?? '')
        for (const name of names ?? []) {
          if (name === input.PolicyName) continue
          const other = await reader.send(
            new GetRolePolicyCommand({ RoleName: input.RoleName, PolicyName: name }),
          )
          chars += policyChars(decodeURIComponent(other.PolicyDocument ?? ''))
        }
        if (chars > INLINE_POLICY_BUDGET) {
          throw new LimitExceededException({
            message: `Maximum policy size of ${INLINE_POLICY_BUDGET} bytes exceeded for role ${input.RoleName}`,
            $metadata: { httpStatusCode: 409 },
          })
        }
      }
      return next(args)
    },
    { step: 'initialize', name: 'enforceInlineQuota' },
  )
}
