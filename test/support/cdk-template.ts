import { App } from 'aws-cdk-lib'
import type { Template } from 'aws-cdk-lib/assertions'
import { expect } from 'vitest'
import { buildApp } from '../../infra/cdk-app.js'
import type { RolePolicy } from './simulate.js'

/* What the CDK tests (test/infra/) read from a synthesized template, and the app they build. */

export const SSH_CIDR = '203.0.113.10/32'
// Stacks whose functions are not bundled: their templates are the same but for the asset hash.
export const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] }

export interface PolicyStatementJson {
  readonly Effect: 'Allow' | 'Deny'
  readonly Action: string | string[]
  readonly Resource: unknown
  readonly Sid?: string
}

export function statementsOf(template: Template): PolicyStatementJson[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (policy) => policy.Properties.PolicyDocument.Statement as PolicyStatementJson[],
  )
}

export function logicalIdOf(template: Template, type: string, idPrefix: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(idPrefix))
  expect(ids).toHaveLength(1)
  return ids[0] as string
}

export const ACCOUNT = '123456789012'

/** A template value with its intrinsics replaced as CloudFormation would in account {@link ACCOUNT}. */
function deployed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(deployed)
  if (typeof value !== 'object' || value === null) return value
  const object = value as Record<string, unknown>
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::AccountId': ACCOUNT,
    'AWS::Region': 'us-east-1',
  }
  if (typeof object.Ref === 'string') return pseudo[object.Ref] ?? object.Ref
  if (Array.isArray(object['Fn::GetAtt'])) return `arn:aws:iam::${ACCOUNT}:role/${object['Fn::GetAtt'][0]}`
  const join = object['Fn::Join'] as [string, unknown[]] | undefined
  if (join) return (deployed(join[1]) as string[]).join(join[0])
  return Object.fromEntries(Object.entries(object).map(([key, inner]) => [key, deployed(inner)]))
}

/** The deployed identity policies of the one role whose logical id starts with `roleIdPrefix`. */
export function rolePoliciesNamed(template: Template, roleIdPrefix: string): RolePolicy[] {
  const role = logicalIdOf(template, 'AWS::IAM::Role', roleIdPrefix)
  const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: role }] } })
  return Object.entries(policies).map(([name, policy]) => ({
    name,
    document: deployed(policy.Properties.PolicyDocument) as object,
  }))
}

/** The deployed identity policies of the controller's and the uninstall handler's roles. */
export function rolePoliciesOf(template: Template): { controller: RolePolicy[]; uninstall: RolePolicy[] } {
  const policiesOf = (roleIdPrefix: string) => rolePoliciesNamed(template, roleIdPrefix)
  return {
    controller: policiesOf('CredentialLockControllerRole'),
    uninstall: policiesOf('CredentialLockUninstallHandlerRole'),
  }
}

export function appWith(context: Record<string, unknown>) {
  return buildApp(new App({ context }))
}
