/** The what-is-my-IP service did not answer with an address. */
export class AddressLookupError extends Error {
  override readonly name = 'AddressLookupError'

  constructor(url: string, problem: string, options?: { cause: unknown }, reacher = 'the function') {
    super(`The address look-up at ${url} ${problem}: check that ${reacher} can reach it.`, options)
  }
}
