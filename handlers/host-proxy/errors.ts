/** The real instance metadata service did not give what the proxy needs. */
export class ImdsError extends Error {
  override readonly name = 'ImdsError'

  constructor(problem: string, options?: { cause: unknown }) {
    super(`The instance metadata service ${problem}.`, options)
  }
}

/** The boot provider did not answer with the JSON the proxy reads. */
export class BootProviderError extends Error {
  override readonly name = 'BootProviderError'

  constructor(url: string, problem: string, options?: { cause: unknown }) {
    super(
      `The boot provider at ${url} ${problem}: check the URL and that the instance role may invoke it.`,
      options,
    )
  }
}

/** The host's credentials could not be locked; carries what the proxy serves instead. */
export class HostLockError extends Error {
  override readonly name = 'HostLockError'

  constructor(
    readonly failureMode: 'open' | 'closed',
    what: string,
    options: { cause: unknown },
  ) {
    const reason = options.cause instanceof Error ? options.cause.message : String(options.cause)
    super(
      `The credentials of ${what} could not be locked to this host (${reason}); ` +
        (failureMode === 'open'
          ? 'failing open: serving the unlocked credentials until the next try.'
          : 'failing closed: serving none until the next try succeeds.'),
      options,
    )
  }
}
