import { isIP } from 'node:net'
import { ConfigError } from '../aws/errors.js'
import { AddressLookupError } from './errors.js'

export const DEFAULT_ADDRESS_URL = 'https://checkip.amazonaws.com'

/**
 * Asks a what-is-my-IP service over HTTPS which address AWS sees for this caller (its answer is the address in
 * plain text, as https://checkip.amazonaws.com gives it). `reacher` names the caller in the error's advice.
 */
export function addressLookup(
  url: string,
  timeoutMs: number,
  reacher = 'the function',
): () => Promise<string> {
  return async () => {
    let response: Response
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    } catch (cause) {
      throw new AddressLookupError(url, `could not be reached within ${timeoutMs} ms`, { cause }, reacher)
    }
    if (!response.ok)
      throw new AddressLookupError(url, `answered HTTP ${response.status}`, undefined, reacher)
    return (await response.text()).trim()
  }
}

/** True for `localhost` and 127.0.0.0/8: the only hosts plain HTTP is accepted for (local stand-ins in tests). */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || (isIP(hostname) === 4 && hostname.startsWith('127.'))
}

/**
 * The look-up must be HTTPS: whoever can answer it decides where the credentials work. Plain HTTP is accepted
 * on the loopback interface only. `setting` names where the value came from, for the error.
 */
export function checkedAddressUrl(value: string | undefined, setting: string): string {
  const text = value?.trim() || DEFAULT_ADDRESS_URL
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new ConfigError(`${setting} is "${value}": give an https:// URL.`)
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new ConfigError(
      `${setting} is "${value}": give an https:// URL, since whoever answers it decides where ` +
        'the credentials work.',
    )
  }
  return text
}
