/**
 * HTTP statuses and network failures as `FileSystemError` reasons.
 *
 * @internal
 */
import * as FileSystemError from "@cerulean/core/FileSystemError"
import * as Predicate from "effect/Predicate"

/**
 * The reason an HTTP status stands for when the operation has no better
 * knowledge. Operations override the ambiguous ones (405, 409), whose meaning
 * depends on the method.
 */
export const reasonOfStatus = (status: number): FileSystemError.ReasonTag => {
  switch (status) {
    case 401:
    case 403:
    case 423: // Locked: someone else holds a WebDAV lock
      return "PermissionDenied"
    case 404:
    case 410:
      return "NotFound"
    case 405:
      return "Unsupported"
    case 409: // Conflict: for PUT, MKCOL, MOVE and COPY a missing parent collection
      return "NotFound"
    case 412: // Precondition Failed: Overwrite: F or If-None-Match: * found something there
      return "AlreadyExists"
    default:
      return "Io"
  }
}

/** An HTTP response that says the operation failed. */
export interface StatusFailure {
  readonly status: number
  readonly statusText?: string | undefined
}

/** The error for a response with an unexpected status. */
export const fromStatus = (
  operation: string,
  path: string,
  response: StatusFailure,
  reason: FileSystemError.ReasonTag = reasonOfStatus(response.status),
  detail?: string
): FileSystemError.FileSystemError =>
  FileSystemError.make(reason, {
    path,
    operation,
    description: `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}${
      detail ? `: ${detail}` : ""
    }`
  })

/** Node and TLS error codes that mean the connection failed or broke. */
const connectionCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ERR_STREAM_PREMATURE_CLOSE",
  "UND_ERR_SOCKET"
])

const codeOf = (cause: unknown): string | undefined =>
  Predicate.hasProperty(cause, "code") && Predicate.isString(cause.code) ? cause.code : undefined

const statusOf = (cause: unknown): number | undefined =>
  Predicate.hasProperty(cause, "status") && Predicate.isNumber(cause.status) ? cause.status : undefined

const messageOf = (cause: unknown): string =>
  Predicate.hasProperty(cause, "message") && Predicate.isString(cause.message) ? cause.message : String(cause)

/** Whether the code is one of OpenSSL's certificate verification failures. */
const isCertificateCode = (code: string): boolean =>
  code.startsWith("CERT_") || code.startsWith("UNABLE_TO_") || code.includes("SELF_SIGNED") ||
  code === "ERR_TLS_CERT_ALTNAME_INVALID" || code === "HOSTNAME_MISMATCH"

/**
 * The error for anything a request failed with: an error carrying an HTTP
 * `status` (the `webdav` client's), a Node network error, a TLS failure, or
 * something unexpected (`Io`).
 */
export const fromCause = (operation: string, path: string) => (cause: unknown): FileSystemError.FileSystemError => {
  if (cause instanceof FileSystemError.FileSystemError) return cause
  const status = statusOf(cause)
  if (status !== undefined) {
    return FileSystemError.make(reasonOfStatus(status), { path, operation, description: `HTTP ${status}`, cause })
  }
  const code = codeOf(cause)
  if (code !== undefined && isCertificateCode(code)) {
    return FileSystemError.make("Io", {
      path,
      operation,
      description: `TLS: the server certificate is not trusted (${code}); is hostCaCertFile the CA that signed it?`,
      cause
    })
  }
  const message = messageOf(cause)
  if ((code !== undefined && connectionCodes.has(code)) || message === "aborted" || message === "socket hang up") {
    const description = code === undefined ? message : message.includes(code) || message === "aborted" ? code : `${code}: ${message}`
    return FileSystemError.make("ConnectionLost", { path, operation, description, cause })
  }
  return FileSystemError.make("Io", { path, operation, description: code ? `${code}: ${message}` : message, cause })
}
