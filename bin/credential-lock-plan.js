#!/usr/bin/env node
// The plan is TypeScript like the rest of the project; tsx runs it from source, as `npm run plan` does.
import { register } from 'tsx/esm/api'

register()
await import('../handlers/plan/plan.ts')
