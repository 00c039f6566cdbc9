/**
 * SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677) as PostgreSQL
 * speaks them, client and server side, plus the SCRAM secret PostgreSQL
 * stores.
 *
 * **The exchange, message by message** (protocol-3.2 "SASL Authentication")
 *
 * 1. Server: AuthenticationSASL listing its mechanisms (`SCRAM-SHA-256-PLUS`
 *    first when the connection uses TLS).
 * 2. Client: SASLInitialResponse with the mechanism and the
 *    client-first-message `gs2-header client-first-bare`, where the gs2 header
 *    is `n,,` (no channel binding), `y,,` (the client could bind but the server
 *    offered no -PLUS) or `p=tls-server-end-point,,`, and the bare part is
 *    `n=<user>,r=<client nonce>`. PostgreSQL ignores the user name (the startup
 *    packet's is used), so it is empty by default, as libpq sends it.
 *    `ScramClient.make` then `clientFirstMessage`.
 * 3. Server: AuthenticationSASLContinue with the server-first-message
 *    `r=<client nonce + server nonce>,s=<salt>,i=<iterations>`
 *    (`ScramServer.receiveClientFirst`).
 * 4. Client: SASLResponse with the client-final-message
 *    `c=<base64(gs2 header + binding data)>,r=<nonce>,p=<proof>`
 *    (`ScramClient.receiveServerFirst`).
 * 5. Server: AuthenticationSASLFinal with the server-final-message
 *    `v=<server signature>` (`ScramServer.receiveClientFinal`), then
 *    AuthenticationOk. The client must verify `v=` before it trusts the
 *    AuthenticationOk (`ScramClient.receiveServerFinal`).
 *
 * The key derivation, the proof and the signature are told in
 * `ScramPrimitives`, with the message grammar both sides share.
 *
 * **Where each part lives** (this module re-exports the public names):
 *
 * - `ScramClient`: the client side, its hardening against a hostile server,
 *   and the `KeyCache` of derived keys.
 * - `ScramServer`: the server side, and `serverMechanisms`.
 * - `ScramSecret`: the secret PostgreSQL stores, its text form, and plain
 *   password checks against it.
 * - `ScramPrimitives`: mechanism names, grammar, nonces, keys and proofs.
 *
 * Deliberately not here: choosing the mechanism and deciding whether the
 * exchange may run (`AuthPolicy`), the message framing (protocol layer), and
 * reading the certificate (`ChannelBinding`).
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
export { certificateHashForChannelBinding } from "./ChannelBinding.ts"
export * from "./ScramClient.ts"
export { type Keys, MECHANISM, MECHANISM_PLUS, type Mechanism, NONCE_BYTES } from "./ScramPrimitives.ts"
export * from "./ScramSecret.ts"
export * from "./ScramServer.ts"
