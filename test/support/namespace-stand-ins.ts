/**
 * Run inside a network namespace of the end-to-end test: the IMDS stand-in on IMDS's own address
 * (169.254.169.254:80 and [fd00:ec2::254]:80, on the namespace's lo) and the address look-up stand-in on loopback. Prints one JSON
 * line with the look-up's URL once both listen, and runs until it is stopped.
 */
import { startAddressStandIn } from './address-stand-in.js'
import { startImdsStandIn } from './imds-stand-in.js'

const imds = await startImdsStandIn(undefined, { host: '169.254.169.254', port: 80 })
// IMDS's IPv6 address (Nitro instances): the same metadata, a stand-in of its own.
await startImdsStandIn(undefined, { host: 'fd00:ec2::254', port: 80 })
const address = await startAddressStandIn('198.51.100.23')
console.log(JSON.stringify({ imdsUrl: imds.url, addressUrl: address.url }))
process.once('SIGTERM', () => process.exit(0))
