import { describe, expect, it } from 'vitest'
import { InvalidSettingError } from '../../policy/errors.js'
import { organizationFrom } from '../../policy/settings.js'

const ORGANIZATION = {
  organizationId: 'o-a1b2c3d4e5',
  organizationalUnitIds: ['ou-ab12-cd34ef56', 'r-ab12'],
  regions: ['eu-central-1', 'us-east-1'],
  securityAccountId: '111122223333',
}
const EXAMPLE =
  'such as {"organizationId":"o-a1b2c3d4e5","organizationalUnitIds":["ou-ab12-cd34ef56"],' +
  '"regions":["eu-central-1"],"securityAccountId":"111122223333"}.'

describe('the organization setting as a deployer writes it', () => {
  it('fills safe defaults: central bus in the first region, SELF, stop at the first failure, 10% at once, region by region', () => {
    // Act
    const settings = organizationFrom(JSON.stringify(ORGANIZATION), 'organization')

    // Assess
    expect(settings).toEqual({
      ...ORGANIZATION,
      securityRegion: 'eu-central-1',
      callAs: 'SELF',
      failureTolerancePercentage: 0,
      maxConcurrentPercentage: 10,
      regionConcurrency: 'SEQUENTIAL',
      securityHub: false,
    })
  })

  it('takes every optional field, from the object cdk.json holds as well as from -c text', () => {
    // Prepare
    const written = {
      ...ORGANIZATION,
      securityRegion: 'us-east-1',
      callAs: 'DELEGATED_ADMIN',
      failureTolerancePercentage: 100,
      maxConcurrentPercentage: 1,
      regionConcurrency: 'PARALLEL',
      securityHub: true,
    }

    // Act
    const fromObject = organizationFrom(written, 'organization')
    const fromText = organizationFrom(JSON.stringify(written), 'organization')

    // Assess
    expect(fromObject).toEqual(written)
    expect(fromText).toEqual(written)
  })
})

describe('organization settings that are refused, each with one sentence naming the value and an example', () => {
  it.each([
    ['text that is not JSON', '{regions:', `organization is not JSON: give an object ${EXAMPLE}`],
    ['a list', '[]', `organization is []: give an object ${EXAMPLE}`],
    ['null', null, `organization is null: give an object ${EXAMPLE}`],
    [
      'an unknown field',
      { ...ORGANIZATION, ou: ['x'] },
      'organization has no field "ou": use organizationId, organizationalUnitIds, regions, securityAccountId, ' +
        'securityRegion, callAs, failureTolerancePercentage, maxConcurrentPercentage, regionConcurrency, ' +
        `securityHub, ${EXAMPLE}`,
    ],
    [
      'no organisation ID',
      { ...ORGANIZATION, organizationId: undefined },
      `organization.organizationId is missing: give the o-… ID of the organisation, ${EXAMPLE}`,
    ],
    [
      'an account ID for the organisation',
      { ...ORGANIZATION, organizationId: '111122223333' },
      'organization.organizationId is "111122223333"',
    ],
    [
      'no OU',
      { ...ORGANIZATION, organizationalUnitIds: [] },
      'organization.organizationalUnitIds is []: give a list of distinct OU IDs such as "ou-ab12-cd34ef56" or ' +
        `the root "r-ab12", ${EXAMPLE}`,
    ],
    [
      'an account where an OU goes',
      { ...ORGANIZATION, organizationalUnitIds: ['111122223333'] },
      'is ["111122223333"]',
    ],
    [
      'a text where the OUs go',
      { ...ORGANIZATION, organizationalUnitIds: 'ou-ab12-cd34ef56' },
      'is "ou-ab12-cd34ef56"',
    ],
    ['a region name', { ...ORGANIZATION, regions: ['Frankfurt'] }, 'organization.regions is ["Frankfurt"]'],
    [
      'a repeated region',
      { ...ORGANIZATION, regions: ['us-east-1', 'us-east-1'] },
      'a list of distinct region',
    ],
    ['no regions', { ...ORGANIZATION, regions: undefined }, 'organization.regions is missing'],
    [
      'a short account',
      { ...ORGANIZATION, securityAccountId: '1234' },
      'organization.securityAccountId is "1234"',
    ],
    [
      'a number account',
      { ...ORGANIZATION, securityAccountId: 111122223333 },
      'securityAccountId is 111122223333',
    ],
    [
      'a bad security region',
      { ...ORGANIZATION, securityRegion: 'EU' },
      'organization.securityRegion is "EU"',
    ],
    [
      'a callAs typo',
      { ...ORGANIZATION, callAs: 'ADMIN' },
      'organization.callAs is "ADMIN": give SELF or DELEGATED_ADMIN, such as "SELF".',
    ],
    [
      'a region concurrency typo',
      { ...ORGANIZATION, regionConcurrency: 'serial' },
      'organization.regionConcurrency is "serial": give SEQUENTIAL or PARALLEL, such as "SEQUENTIAL".',
    ],
    [
      'no concurrency',
      { ...ORGANIZATION, maxConcurrentPercentage: 0 },
      'organization.maxConcurrentPercentage is 0: give a whole percentage from 1 to 100, such as 10.',
    ],
    [
      'a concurrency over 100',
      { ...ORGANIZATION, maxConcurrentPercentage: 101 },
      'maxConcurrentPercentage is 101',
    ],
    [
      'a negative tolerance',
      { ...ORGANIZATION, failureTolerancePercentage: -1 },
      'organization.failureTolerancePercentage is -1: give a whole percentage from 0 to 100, such as 0.',
    ],
    [
      'a fractional tolerance',
      { ...ORGANIZATION, failureTolerancePercentage: 2.5 },
      'failureTolerancePercentage is 2.5',
    ],
    [
      'a text tolerance',
      { ...ORGANIZATION, failureTolerancePercentage: '5' },
      'failureTolerancePercentage is "5"',
    ],
    [
      'a text securityHub',
      { ...ORGANIZATION, securityHub: 'yes' },
      'organization.securityHub is "yes": give true or false.',
    ],
  ])('refuses %s', (_, value, message) => {
    // Act
    const read = () => organizationFrom(value, 'organization')

    // Assess
    expect(read).toThrow(InvalidSettingError)
    expect(read).toThrow(message)
  })
})
