/** Operations that only read, by AWS's naming convention. */
const READ_OPERATION = /^(Describe|Get|List)/

/** What the SDK's middleware stack passes to an initialize-step middleware; only these fields are read. */
interface CallContext {
  readonly clientName?: string
  readonly commandName?: string
}

type Handler<Args, Output> = (args: Args) => Promise<Output>

export interface CallCounts {
  /** Calls per `Service:Operation`, e.g. `EC2:DescribeInstances`, `IAM:PutRolePolicy`. */
  readonly byOperation: Readonly<Record<string, number>>
  readonly reads: number
  readonly writes: number
  readonly total: number
}

export function isReadOperation(operation: string): boolean {
  return READ_OPERATION.test(operation)
}

/**
 * Counts the commands sent through every client it is added to (once per `send`, retries not counted):
 * `client.middlewareStack.add(counter.middleware, counter.middlewareOptions)`, or `counter.attachTo(client)`.
 */
export class AwsCallCounter {
  readonly middlewareOptions = { step: 'initialize', name: `awsCallCounter-${crypto.randomUUID()}` } as const
  private counts = new Map<string, number>()

  readonly middleware =
    <Args, Output>(next: Handler<Args, Output>, context: CallContext): Handler<Args, Output> =>
    (args) => {
      const key = `${serviceOf(context.clientName)}:${operationOf(context.commandName)}`
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1)
      return next(args)
    }

  attachTo(...clients: readonly { readonly middlewareStack: { add: AddMiddleware } }[]): this {
    for (const client of clients) client.middlewareStack.add(this.middleware, this.middlewareOptions)
    return this
  }

  count(key: string): number {
    return this.counts.get(key) ?? 0
  }

  snapshot(): CallCounts {
    const byOperation = Object.fromEntries([...this.counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    let reads = 0
    let writes = 0
    for (const [key, calls] of this.counts) {
      if (isReadOperation(key.slice(key.indexOf(':') + 1))) reads += calls
      else writes += calls
    }
    return { byOperation, reads, writes, total: reads + writes }
  }

  reset(): void {
    this.counts = new Map()
  }
}

type AddMiddleware = (
  middleware: AwsCallCounter['middleware'],
  options: AwsCallCounter['middlewareOptions'],
) => void

function serviceOf(clientName: string | undefined): string {
  return (clientName ?? 'Unknown').replace(/Client$/, '')
}

function operationOf(commandName: string | undefined): string {
  return (commandName ?? 'Unknown').replace(/Command$/, '')
}
