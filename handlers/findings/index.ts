import { Logger } from '@aws-lambda-powertools/logger'
import { SecurityHubClient } from '@aws-sdk/client-securityhub'
import type { AuditEvent } from './asff.js'
import { syncFindings } from './findings.js'

const logger = new Logger()
const deps = {
  securityHub: new SecurityHubClient({}),
  logger,
  productArn: process.env.FINDINGS_PRODUCT_ARN ?? '',
  now: () => new Date(),
}

/** The Lambda entry: one credential-lock audit event from the central bus. */
export const handler = (event: AuditEvent): Promise<void> => syncFindings(deps, event)
