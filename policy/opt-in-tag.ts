/**
 * The opt-in tag as a person types it: what a valid lock tag is (one rule for synth, the controller's cold start
 * and the plan), and the tag that nearly opts an instance in, so a typo is named instead of looking like no tag.
 */

import { InvalidSettingError } from './errors.js'

/** The characters AWS accepts in tag keys and values across services. */
const TAG_CHARACTERS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u
const TAG_KEY_MAX = 128
const TAG_VALUE_MAX = 256

export interface TagLike {
  readonly Key?: string | undefined
  readonly Value?: string | undefined
}

export interface LockTag {
  readonly key: string
  readonly value: string
}

/** Refuses a tag key AWS would refuse or that no console user could type back exactly (edge spaces). */
export function checkTagKey(setting: string, key: string): void {
  checkTagText(setting, key, TAG_KEY_MAX)
  if (key.toLowerCase().startsWith('aws:')) {
    throw new InvalidSettingError(`${setting} "${key}" must not start with "aws:", which AWS reserves.`)
  }
}

/** Refuses a tag value AWS would refuse or that no console user could type back exactly (edge spaces). */
export function checkTagValue(setting: string, value: string): void {
  checkTagText(setting, value, TAG_VALUE_MAX)
}

function checkTagText(setting: string, text: string, maxLength: number): void {
  if (text.length === 0 || text.length > maxLength || text.trim() !== text || !TAG_CHARACTERS.test(text)) {
    throw new InvalidSettingError(
      `${setting} "${text}" must be 1 to ${maxLength} letters, digits, spaces or _ . : / = + - @, without leading or trailing spaces.`,
    )
  }
}

/** Case and edge spaces: what a person does not see when tagging by hand. */
function loosely(text: string | undefined): string {
  return (text ?? '').trim().toLowerCase()
}

/** Quotes text whose edge spaces would otherwise be invisible. */
function visible(text: string | undefined): string {
  const shown = text ?? ''
  return shown.trim() === shown ? shown : JSON.stringify(shown)
}

/**
 * The hint for tags that miss the lock tag only by case or edge spaces, in key or value, such as
 * `tag credential-lock=Enabled; the lock tag value is "enabled"`. Undefined when the tags opt in (the match is
 * exact, as EC2's tag filter is) or hold nothing close.
 */
export function optInNearMiss(tags: readonly TagLike[], lockTag: LockTag): string | undefined {
  if (tags.some((tag) => tag.Key === lockTag.key && tag.Value === lockTag.value)) return undefined
  const near = tags.find(
    (tag) => loosely(tag.Key) === loosely(lockTag.key) && loosely(tag.Value) === loosely(lockTag.value),
  )
  if (near === undefined) return undefined
  const found = `tag ${visible(near.Key)}=${visible(near.Value)}`
  if (near.Key === lockTag.key) return `${found}; the lock tag value is "${lockTag.value}"`
  if (near.Value === lockTag.value) return `${found}; the lock tag key is "${lockTag.key}"`
  return `${found}; the lock tag is "${lockTag.key}"="${lockTag.value}"`
}
