/**
 * A setting (a construct prop or a context key) is unusable. Its message is one sentence naming the setting
 * and what to do; infra/app.ts prints only that message, without a stack trace.
 */
export class SettingsError extends Error {
  override readonly name = 'SettingsError'
}
