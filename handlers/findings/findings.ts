import type { Logger } from '@aws-lambda-powertools/logger'
import {
  type AwsSecurityFinding,
  BatchImportFindingsCommand,
  GetFindingsCommand,
  type SecurityHubClient,
} from '@aws-sdk/client-securityhub'
import { type AuditEvent, type Observation, observationsOf, UnreadableAuditEventError } from './asff.js'

export interface FindingsDeps {
  readonly securityHub: SecurityHubClient
  readonly logger: Logger
  /** The custom integration of the importing account: arn:<partition>:securityhub:<region>:<account>:product/<account>/default. */
  readonly productArn: string
  readonly now: () => Date
}

/** Security Hub refused some findings: thrown so EventBridge retries the event. */
export class FindingsImportError extends Error {
  override readonly name = 'FindingsImportError'
}

/** Security Hub's limits: 100 findings per import, 20 values per filter. */
const IMPORT_BATCH = 100
const FILTER_VALUES = 20
const PRODUCT_ARN = /^arn:([a-z-]+):securityhub:[a-z0-9-]+:(\d{12}):product\/\d{12}\/default$/

/**
 * Makes the findings list true for what one audit event shows: a workload left unprotected, or a lock that
 * failed for good, becomes (or stays) an active finding; one locked again has its active finding archived.
 * An unreadable event is logged and changes nothing.
 */
export async function syncFindings(deps: FindingsDeps, event: AuditEvent): Promise<void> {
  const [, partition, importer] = PRODUCT_ARN.exec(deps.productArn) ?? []
  if (partition === undefined || importer === undefined) {
    throw new FindingsImportError(
      `The product ARN ${deps.productArn} is not a default custom integration ARN.`,
    )
  }
  let observations: Observation[]
  try {
    observations = observationsOf(event, partition)
  } catch (error) {
    if (!(error instanceof UnreadableAuditEventError)) throw error
    deps.logger.warn('event skipped', { eventId: event?.id, reason: error.message })
    return
  }
  const existing = await activeFindings(
    deps,
    observations.map((o) => o.findingId),
  )
  const now = deps.now().toISOString()
  const imports = observations.flatMap((observation) => {
    const current = existing.get(observation.findingId)
    if (observation.active) return [asFinding(deps.productArn, importer, observation, current, now, 'ACTIVE')]
    if (current === undefined || !newer(observation, current)) return []
    return [asFinding(deps.productArn, importer, observation, current, now, 'ARCHIVED')]
  })
  for (let start = 0; start < imports.length; start += IMPORT_BATCH) {
    const batch = imports.slice(start, start + IMPORT_BATCH)
    const output = await deps.securityHub.send(new BatchImportFindingsCommand({ Findings: batch }))
    if ((output.FailedCount ?? 0) > 0) {
      throw new FindingsImportError(
        `Security Hub refused ${output.FailedCount} of ${batch.length} findings: ${JSON.stringify(output.FailedFindings)}`,
      )
    }
  }
  deps.logger.info('findings synced', {
    eventId: event.id,
    memberAccount: event.account,
    active: imports.filter((f) => f.RecordState === 'ACTIVE').map((f) => f.Id),
    archived: imports.filter((f) => f.RecordState === 'ARCHIVED').map((f) => f.Id),
  })
}

/** A failure finding is archived only by a decision made after it, never by one of the same second. */
function newer(observation: Observation, current: AwsSecurityFinding): boolean {
  if (observation.kind !== 'lock-failed') return true
  return Date.parse(observation.observedAt) > Date.parse(current.LastObservedAt ?? current.CreatedAt ?? '')
}

/** The active findings with these ids, by id (filtered here too: emulators may ignore filters). */
async function activeFindings(
  deps: FindingsDeps,
  ids: readonly string[],
): Promise<Map<string, AwsSecurityFinding>> {
  const wanted = new Set(ids)
  const found = new Map<string, AwsSecurityFinding>()
  for (let start = 0; start < ids.length; start += FILTER_VALUES) {
    let nextToken: string | undefined
    do {
      const output = await deps.securityHub.send(
        new GetFindingsCommand({
          Filters: {
            ProductArn: [{ Value: deps.productArn, Comparison: 'EQUALS' }],
            Id: ids.slice(start, start + FILTER_VALUES).map((Value) => ({ Value, Comparison: 'EQUALS' })),
            RecordState: [{ Value: 'ACTIVE', Comparison: 'EQUALS' }],
          },
          MaxResults: 100,
          NextToken: nextToken,
        }),
      )
      for (const finding of output.Findings ?? []) {
        if (finding.Id && wanted.has(finding.Id) && finding.RecordState === 'ACTIVE')
          found.set(finding.Id, finding)
      }
      nextToken = output.NextToken
    } while (nextToken)
  }
  return found
}

const SEVERITY = { unprotected: 'HIGH', 'lock-failed': 'MEDIUM' } as const
const TYPES = ['Software and Configuration Checks/AWS Security Best Practices']

function asFinding(
  productArn: string,
  importer: string,
  observation: Observation,
  current: AwsSecurityFinding | undefined,
  now: string,
  recordState: 'ACTIVE' | 'ARCHIVED',
): AwsSecurityFinding {
  const severity = { Label: SEVERITY[observation.kind] }
  return {
    SchemaVersion: '2018-10-08',
    Id: observation.findingId,
    ProductArn: productArn,
    GeneratorId: `credential-lock/${observation.kind}`,
    // With the default product ARN, Security Hub accepts only findings of the importing account; the member
    // account is named by the resource and the product fields.
    AwsAccountId: importer,
    Types: TYPES,
    CreatedAt: current?.CreatedAt ?? now,
    UpdatedAt: now,
    FirstObservedAt: current?.FirstObservedAt ?? observation.observedAt,
    LastObservedAt: observation.observedAt,
    Severity: severity,
    FindingProviderFields: { Severity: severity, Types: TYPES },
    Title: observation.title.slice(0, 256),
    Description: observation.description.slice(0, 1024),
    Region: observation.region,
    Resources: [{ Type: observation.resource.type, Id: observation.resource.id, Region: observation.region }],
    ProductFields: {
      'credential-lock/memberAccount': observation.memberAccount,
      'credential-lock/region': observation.region,
      ...(observation.roleName ? { 'credential-lock/roleName': observation.roleName } : {}),
    },
    RecordState: recordState,
  }
}
