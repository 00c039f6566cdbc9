/**
 * The vocabulary of libpq's two authentication keywords, `channel_binding`
 * and `require_auth`: their values and the grammar of a `require_auth` list.
 *
 * **Details**
 *
 * libpq-connect.sgml "require_auth" and `fe-connect.c`: a `require_auth` list
 * names methods (`password`, `md5`, `gss`, `sspi`, `scram-sha-256`, `oauth`,
 * `none`), either all plain (the methods the server may use) or all prefixed
 * with `!` (the methods it may not use), each at most once. The list is split
 * at every comma with no trimming, as libpq does: `"md5, password"` names the
 * unknown method `" password"`.
 *
 * Deliberately not here: what a method allows (which Authentication* requests
 * it lets the server send): that is the authentication policy's decision
 * (`AuthPolicy.parseRequireAuth`), built on this grammar.
 *
 * Pure: `effect/Schema` and `effect/Result` only, so the pure authentication
 * layer may read this vocabulary without the rest of the configuration.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { ConfigError } from "../errors/PgError.ts"

/**
 * libpq `channel_binding`.
 *
 * @since 0.1.0
 */
export const ChannelBinding = Schema.Literals(["disable", "prefer", "require"])
/** @since 0.1.0 */
export type ChannelBinding = typeof ChannelBinding.Type

/**
 * A method a `require_auth` list may name (`none`: the server asks for no
 * authentication at all).
 *
 * @since 0.1.0
 */
export const RequireAuthMethod = Schema.Literals(["password", "md5", "gss", "sspi", "scram-sha-256", "oauth", "none"])
/** @since 0.1.0 */
export type RequireAuthMethod = typeof RequireAuthMethod.Type

/**
 * A `require_auth` list as written, checked against libpq's grammar.
 *
 * @since 0.1.0
 */
export interface RequireAuthList {
  /** The option as written, quoted in errors. */
  readonly source: string
  /** Every method was prefixed with `!`: the list names the methods the server may not use. */
  readonly negated: boolean
  /** The methods, in the order written, each once. */
  readonly methods: ReadonlyArray<RequireAuthMethod>
}

const invalid = (message: string) => Result.fail(new ConfigError({ message, parameter: "require_auth" }))

/**
 * Parses a `require_auth` list with libpq's grammar and error texts.
 *
 * **Details**
 *
 * `undefined` and the empty string mean no requirement. Fails with a
 * `ConfigError` (parameter `require_auth`) for an unknown method, a mix of
 * negated and plain methods, or a method given twice, checked part by part in
 * libpq's order.
 *
 * @since 0.1.0
 */
export const parseRequireAuth = (value: string | undefined): Result.Result<RequireAuthList | undefined, ConfigError> => {
  if (value === undefined || value === "") return Result.succeed(undefined)
  const parts = value.split(",")
  const negated = parts[0]!.startsWith("!")
  const methods: Array<RequireAuthMethod> = []
  for (const part of parts) {
    if (part.startsWith("!") !== negated) {
      return invalid(
        negated
          ? `require_auth method "${part}" cannot be mixed with negative methods`
          : `negative require_auth method "${part}" cannot be mixed with non-negative methods`
      )
    }
    const method = negated ? part.slice(1) : part
    if (!Schema.is(RequireAuthMethod)(method)) return invalid(`invalid require_auth value: "${method}"`)
    if (methods.includes(method)) return invalid(`require_auth method "${part}" is specified more than once`)
    methods.push(method)
  }
  return Result.succeed({ source: value, negated, methods })
}
