/**
 * The data path of the WebDAV file system: streaming GET and PUT on
 * `node:http(s)` with the file system's keep-alive agent (large downloads
 * into a local file take their own connection instead: `download.ts`).
 *
 * The `webdav` package would take a PUT body only as a Node `Readable` (sent
 * chunked, through node-fetch's own pipe) and hands a GET body out through an
 * extra `PassThrough`; going to `node:http(s)` directly for the two requests
 * that move data lets the Effect stream write straight into the request with
 * back-pressure, lets an early refusal (a 409 while the body is still being
 * sent) end the upload at once, and lets an interrupted transfer destroy its
 * socket so that the server never commits a partial file.
 *
 * @internal
 */
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Http from "node:http"
import * as Https from "node:https"
import type { Base } from "./url.ts"

/** What every request needs: where, through which connection pool, as whom, and how long to wait. */
export interface Transport {
  readonly base: Base
  readonly agent: Http.Agent
  readonly authorization: Redacted.Redacted<string> | undefined
  /** The CAs to trust over https instead of Node's (`hostCaCertFile`), for connections outside the agent. */
  readonly ca: Buffer | undefined
  /** How long to wait for the server: for a response, or for the next piece of data. */
  readonly timeout: Duration.Duration
}

/** The cause of a wait that ran out: Node's own code for it, so it maps to `ConnectionLost`. */
export const timedOut = (timeout: Duration.Duration) =>
  Object.assign(new Error(`no answer from the server within ${Duration.format(timeout)}`), {
    code: "ETIMEDOUT"
  })

/**
 * Waits at most `transport.timeout`. Only waits for the server are limited, never the
 * time a consumer takes with the data it was given: a paused download is not a dead one.
 */
export const waitForServer = <A, E>(
  transport: Transport,
  effect: Effect.Effect<A, E>,
  onError: (cause: unknown) => E
): Effect.Effect<A, E> =>
  Effect.timeoutOrElse(effect, {
    duration: transport.timeout,
    orElse: () => Effect.fail(onError(timedOut(transport.timeout)))
  })

/** What every request says it is: metadata requests (the `webdav` client) too. */
export const userAgent = "cerulean-ts/0.1.0"

const send = (
  transport: Transport,
  method: string,
  url: string,
  headers: Record<string, string>
): Http.ClientRequest => {
  const all: Record<string, string> = { "user-agent": userAgent, ...headers }
  if (transport.authorization !== undefined) all.authorization = Redacted.value(transport.authorization)
  const request = transport.base.protocol === "https:" ? Https.request : Http.request
  return request(url, { method, agent: transport.agent, headers: all })
}

/**
 * Sends a GET and waits for the response head. The response is destroyed at
 * the end of the scope unless its body was read to the end, so an abandoned
 * download never leaves a half-read body on a pooled socket.
 */
export const openGet = <E>(
  transport: Transport,
  url: string,
  onError: (cause: unknown) => E
): Effect.Effect<Http.IncomingMessage, E, Scope.Scope> =>
  Effect.acquireRelease(
    waitForServer(transport, Effect.callback<Http.IncomingMessage, E>((resume) => {
      const request = send(transport, "GET", url, { accept: "*/*" })
      request.on("response", (response) => resume(Effect.succeed(response)))
      // Kept for the request's whole life: a later error (the body breaking off) must not be unhandled.
      request.on("error", (cause) => resume(Effect.fail(onError(cause))))
      request.end()
      return Effect.sync(() => request.destroy())
    }), onError),
    (response) =>
      Effect.sync(() => {
        if (!response.complete) response.destroy()
      })
  )

/**
 * Reads and discards what is left of a response body (an error page) so its
 * socket can serve the next request. A body larger than `limit` is not worth
 * the wait: the socket is destroyed instead.
 */
export const discard = (response: Http.IncomingMessage, limit = 1 << 20): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    if (response.complete || response.destroyed) return resume(Effect.void)
    let seen = 0
    const onData = (chunk: Buffer) => {
      seen += chunk.length
      if (seen > limit) {
        response.destroy()
        resume(Effect.void)
      }
    }
    response.on("data", onData)
    response.once("end", () => resume(Effect.void))
    response.once("error", () => resume(Effect.void))
    response.once("close", () => resume(Effect.void))
    return Effect.sync(() => {
      response.off("data", onData)
      response.destroy()
    })
  })

/**
 * Writes a batch of chunks, waiting for `drain` only when the request's
 * buffer is full: the back-pressure that keeps an upload in constant memory.
 * `sent` learns of each chunk once the socket is done with it. A request
 * that fails meanwhile never drains; the race in {@link put} ends the wait.
 */
const write = <E>(
  request: Http.ClientRequest,
  chunks: ReadonlyArray<Uint8Array>,
  sent: ((chunk: Uint8Array) => void) | undefined
): Effect.Effect<void, E> =>
  Effect.callback<void, E>((resume) => {
    let ready = true
    for (const chunk of chunks) {
      ready = sent === undefined ? request.write(chunk) : request.write(chunk, () => sent(chunk))
    }
    if (ready) return resume(Effect.void)
    const onDrain = () => resume(Effect.void)
    request.once("drain", onDrain)
    return Effect.sync(() => request.off("drain", onDrain))
  })

/**
 * Streams `data` as the body of a PUT (chunked: the length is not known in
 * advance) and returns the response, whose body has been discarded.
 *
 * The upload races the response: a server that refuses the request before
 * the body is complete answers early, and that answer ends the upload. If
 * `data` fails or the fiber is interrupted, the request is destroyed, so the
 * server sees a truncated body and does not commit the file. `sent` learns of
 * each chunk of `data` once the socket no longer needs it (see `write`).
 */
export const put = <E, EB>(
  transport: Transport,
  url: string,
  data: Stream.Stream<Uint8Array, EB>,
  headers: Record<string, string>,
  onError: (cause: unknown) => E,
  sent?: (chunk: Uint8Array) => void
): Effect.Effect<Http.IncomingMessage, E | EB> =>
  Effect.scoped(Effect.gen(function*() {
    const response = Deferred.makeUnsafe<Http.IncomingMessage, E>()
    const request = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const request = send(transport, "PUT", url, { "content-type": "application/octet-stream", ...headers })
        request.on("response", (res) => Deferred.doneUnsafe(response, Effect.succeed(res)))
        request.on("error", (cause) => Deferred.doneUnsafe(response, Effect.fail(onError(cause))))
        return request
      }),
      (request, exit) =>
        Effect.sync(() => {
          // An early answer leaves the body unfinished: that socket cannot carry another request.
          if (Exit.isFailure(exit) || !request.writableFinished) request.destroy()
        })
    )
    // Not NodeSink: when `data` fails it would destroy the request itself, and the resulting
    // "socket hang up" could win the race below over the source's own error.
    const upload = Effect.andThen(
      Stream.runForEachArray(data, (chunks) => waitForServer(transport, write<E>(request, chunks, sent), onError)),
      waitForServer(
        transport,
        Effect.callback<void, E>((resume) => {
          request.end(() => resume(Effect.void))
        }),
        onError
      )
    )
    const res = yield* Effect.raceFirst(
      Effect.andThen(upload, waitForServer(transport, Deferred.await(response), onError)),
      Deferred.await(response)
    )
    yield* discard(res)
    return res
  }))

/**
 * The body of a response as a stream, in batches: each pull takes every
 * chunk that arrived since the previous one, as the network delivered them
 * (no copying into blocks of a fixed size). The response is paused while
 * `highWaterMark` bytes wait to be pulled, which bounds memory whatever the
 * consumer's pace. A body that breaks off fails the stream with `onError`.
 */
export const body = <E>(
  transport: Transport,
  response: Http.IncomingMessage,
  onError: (cause: unknown) => E,
  highWaterMark = 1024 * 1024
): Stream.Stream<Uint8Array, E> =>
  Stream.fromPull(Effect.sync(() => {
    let chunks: Array<Uint8Array> = []
    let buffered = 0
    let ended = false
    let failure: E | undefined
    let wake: (() => void) | undefined
    const signal = () => {
      const w = wake
      wake = undefined
      w?.()
    }
    response.on("data", (chunk: Buffer) => {
      chunks.push(chunk)
      buffered += chunk.length
      if (buffered >= highWaterMark) response.pause()
      signal()
    })
    // "end" only after the whole body (Content-Length or the last chunk); a connection that
    // closes before that is an error ("aborted" / ECONNRESET), never a short file.
    response.once("end", () => {
      ended = true
      signal()
    })
    const onFailure = (cause: unknown) => {
      failure ??= onError(cause)
      signal()
    }
    response.once("error", onFailure)
    response.once("close", () => {
      if (!response.complete) onFailure(Object.assign(new Error("aborted"), { code: "ECONNRESET" }))
    })
    const pull: Effect.Effect<Arr.NonEmptyReadonlyArray<Uint8Array>, E | Cause.Done> = Effect.suspend(() => {
      if (Arr.isArrayNonEmpty(chunks)) {
        const out = chunks
        chunks = []
        buffered = 0
        if (response.isPaused()) response.resume()
        return Effect.succeed(out)
      }
      if (failure !== undefined) return Effect.fail(failure)
      if (ended) return Cause.done()
      return Effect.flatMap(
        waitForServer(
          transport,
          Effect.callback<void, E>((resume) => {
            wake = () => resume(Effect.void)
            return Effect.sync(() => {
              wake = undefined
            })
          }),
          onError
        ),
        () => pull
      )
    })
    return pull
  }))
