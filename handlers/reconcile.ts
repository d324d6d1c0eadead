// Placeholder until the controller lands: keeps the CDK app bundling while the handler is written.
export async function handler(): Promise<void> {
  throw new Error('credential-lock controller not implemented yet')
}
