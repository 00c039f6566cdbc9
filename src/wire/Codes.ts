/**
 * Message type bytes of protocol 3.x, both directions (protocol-3.2 "Message
 * Formats"). The same byte means different messages in the two directions
 * ('D' is DataRow from the server and Describe from the client), so each
 * direction has its own table.
 *
 * @since 0.1.0
 */

/** Type bytes of messages sent by the server. @since 0.1.0 */
export const Backend = {
  Authentication: 0x52, // 'R' (every Authentication* message; the int32 after the length says which)
  BackendKeyData: 0x4b, // 'K'
  BindComplete: 0x32, // '2'
  CloseComplete: 0x33, // '3'
  CommandComplete: 0x43, // 'C'
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  CopyInResponse: 0x47, // 'G'
  CopyOutResponse: 0x48, // 'H'
  CopyBothResponse: 0x57, // 'W'
  DataRow: 0x44, // 'D'
  EmptyQueryResponse: 0x49, // 'I'
  ErrorResponse: 0x45, // 'E'
  FunctionCallResponse: 0x56, // 'V'
  NegotiateProtocolVersion: 0x76, // 'v'
  NoData: 0x6e, // 'n'
  NoticeResponse: 0x4e, // 'N'
  NotificationResponse: 0x41, // 'A'
  ParameterDescription: 0x74, // 't'
  ParameterStatus: 0x53, // 'S'
  ParseComplete: 0x31, // '1'
  PortalSuspended: 0x73, // 's'
  ReadyForQuery: 0x5a, // 'Z'
  RowDescription: 0x54 // 'T'
} as const

/** Type bytes of messages sent by the client. @since 0.1.0 */
export const Frontend = {
  Bind: 0x42, // 'B'
  Close: 0x43, // 'C'
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  CopyFail: 0x66, // 'f'
  Describe: 0x44, // 'D'
  Execute: 0x45, // 'E'
  Flush: 0x48, // 'H'
  FunctionCall: 0x46, // 'F'
  /** GSSResponse, PasswordMessage, SASLInitialResponse and SASLResponse all use 'p'. */
  PasswordFamily: 0x70, // 'p'
  Parse: 0x50, // 'P'
  Query: 0x51, // 'Q'
  Sync: 0x53, // 'S'
  Terminate: 0x58 // 'X'
} as const

/** Codes carried in the int32 of an untyped startup-phase frame. @since 0.1.0 */
export const StartupCode = {
  /** 80877102 = 1234 << 16 | 5678 */
  CancelRequest: 80877102,
  /** 80877103 = 1234 << 16 | 5679 */
  SSLRequest: 80877103,
  /** 80877104 = 1234 << 16 | 5680 */
  GSSENCRequest: 80877104
} as const

/** Authentication request codes (the int32 after the length of an 'R' message). @since 0.1.0 */
export const AuthCode = {
  Ok: 0,
  KerberosV5: 2,
  CleartextPassword: 3,
  MD5Password: 5,
  GSS: 7,
  GSSContinue: 8,
  SSPI: 9,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12
} as const

/** Protocol version numbers as sent in StartupMessage (major << 16 | minor). @since 0.1.0 */
export const ProtocolVersion = {
  V2_0: 0x20000,
  V3_0: 0x30000,
  V3_2: 0x30002
} as const
