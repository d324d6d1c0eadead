#!/usr/bin/env node
// The proxy is TypeScript like the rest of the project; tsx runs it from source (installed hosts run the bundle).
import { register } from 'tsx/esm/api'

register()
await import('../handlers/host-proxy/metadata-proxy.ts')
