/**
 * Protocol 2.0 messages, both directions (protocol-2.0 "Message Formats"),
 * and incremental decoders for both directions.
 *
 * **Details**
 *
 * - `_tag`s are the exact names of the 2.0 "Message Formats" page. Several
 *   (`ErrorResponse`, `RowDescription`, `ReadyForQuery`, `Query`, ...) are
 *   also 3.x names: `V2.RowDescription` is a different type from
 *   `Backend.RowDescription`, and the module (the protocol version the
 *   session negotiated) tells them apart, never the tag.
 * - Most 2.0 messages carry no length word: a type byte, then fields whose
 *   sizes follow from the fields themselves. So they cannot be framed without
 *   being parsed, and the codecs here use the `payload` framing of `Message`
 *   (type byte, then the body up to the end of the given bytes) for one whole
 *   message, and `BackendDecoder` / `FrontendDecoder` cut a byte stream into
 *   messages. Only the packets of the start-up exchange sent by the client
 *   (StartupPacket, PasswordPacket, CancelRequest, SSLRequest) start with a
 *   length (`untyped` framing); the server's Authentication messages do not.
 * - AsciiRow and BinaryRow start with a null bitmap whose size depends on the
 *   field count of the preceding RowDescription: their codecs are made per
 *   field count (`asciiRow(n)`, `binaryRow(n)`), and `BackendDecoder`
 *   remembers the last RowDescription. AsciiRow sizes count their own four
 *   bytes, BinaryRow sizes do not (as documented).
 * - CopyDataRows has neither type byte nor length: text lines ending in
 *   '\n', then the line `\.`. A `CopyDataRows` value is some rows (without
 *   their '\n') and whether the end marker follows; the decoders emit one
 *   value per line (`end: true` with no rows for the marker), so a COPY of any
 *   size never has to be buffered whole. `BackendDecoder` enters copy mode by
 *   itself after CopyOutResponse; a server calls
 *   `FrontendDecoder.expectCopyDataRows()` after sending CopyInResponse, and
 *   `expectPasswordPacket()` after an authentication request.
 * - Strings are decoded as strict UTF-8 (set the server's client encoding to
 *   UTF8). The "Unused" strings of FunctionCall and EmptyQueryResponse are
 *   kept when not empty (libpq sent `" "` in FunctionCall), so bytes round
 *   trip. LimStrings are read up to their first NUL; padding after it is
 *   ignored and written as zeros. Bitmap bits past the last field are ignored
 *   and written as zeros.
 * - Byte fields of decoded messages (row values, function results, copy rows)
 *   are views of the input chunks: a chunk passed to a decoder must not be
 *   modified afterwards.
 *
 * Not here: the single-byte answer to SSLRequest (the 2.0 text says 'Y',
 * servers send 'S'; or 'N'), which the caller reads before the decoder sees
 * any byte ('N' would otherwise look like a NoticeResponse); the crypt(3)
 * and MD5 password hashing; the session state machine; and errors raised in
 * the middle of a COPY OUT (nothing frames them apart from the rows in 2.0,
 * so they arrive as rows). Pure: no Effect runtime, no IO.
 *
 * **Where each part lives** (this module re-exports them all):
 *
 * - `V2Backend`: the server's messages, one codec each in the docs' order,
 *   with `BackendCode` and `AuthCode`; `V2Rows`: AsciiRow and BinaryRow.
 * - `V2Frontend`: the client's messages, with `FrontendCode`,
 *   `STARTUP_PACKET_LENGTH` and `LimString`.
 * - `V2CopyDataRows`: CopyDataRows, which both directions send.
 * - `V2BackendStream` / `V2FrontendStream`: each direction's message union,
 *   writers and encoders of any message, the stream decoders, and the
 *   single-message decoders; `V2Decoder`: what both stream decoders share.
 * - `V2Codec`: the pieces the codecs share (internal).
 *
 * @since 0.1.0
 */
export * from "./V2Backend.ts"
export * from "./V2BackendStream.ts"
export * from "./V2CopyDataRows.ts"
export type { DecoderOptions } from "./V2Decoder.ts"
export * from "./V2Frontend.ts"
export * from "./V2FrontendStream.ts"
export * from "./V2Rows.ts"
