/**
 * The one place the proxy writes an answer it made itself: errors in IMDS's own shape (a small HTML page, as
 * SDKs expect from IMDS) or in the container endpoint's JSON shape, and credentials documents.
 */
import type { ServerResponse } from 'node:http'

export type ErrorShape = 'imds' | 'json'

const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
}

export function writeError(
  response: ServerResponse,
  status: number,
  shape: ErrorShape,
  message?: string,
): void {
  const reason = REASONS[status] ?? 'Error'
  if (shape === 'json') {
    writeBody(response, status, 'application/json', JSON.stringify({ Message: message ?? reason }))
    return
  }
  writeBody(
    response,
    status,
    'text/html',
    '<?xml version="1.0" encoding="iso-8859-1"?>\n' +
      '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n' +
      '\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n' +
      '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n' +
      ` <head>\n  <title>${status} - ${reason}</title>\n </head>\n` +
      ` <body>\n  <h1>${status} - ${reason}</h1>\n </body>\n</html>\n`,
  )
}

/** A 200 with a JSON document; `headers` are kept (IMDS's own, on a replaced credentials answer). */
export function writeJson(
  response: ServerResponse,
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
  document: object,
): void {
  writeBody(response, 200, 'application/json', JSON.stringify(document, null, 2), headers)
}

function writeBody(
  response: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  headers: Readonly<Record<string, string | readonly string[] | undefined>> = {},
): void {
  response.writeHead(status, {
    'content-type': contentType,
    ...(headers as Record<string, string | string[]>),
    'content-length': Buffer.byteLength(body),
  })
  response.end(body)
}

/** IMDS writes times to the second: `2026-01-02T03:04:05Z`. */
export function imdsTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`
}
