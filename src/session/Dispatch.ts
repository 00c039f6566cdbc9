/**
 * Where a decoded backend message goes, outside the row path: a reply to its
 * request's hook (`deliver`), and the asynchronous messages that belong to no
 * request (NoticeResponse, NotificationResponse, ParameterStatus) to the
 * connection's owner (protocol-3.2 "Asynchronous Operations").
 *
 * **Details**
 *
 * `Connection`'s reader judges every message with `State.step` first and
 * handles DataRow, CopyData and CommandComplete itself (once per row, per
 * chunk, per statement); what reaches these functions has been judged already.
 *
 * @since 0.1.0
 */
import * as Backend from "../protocol/Backend.ts"
import { PgError, ProtocolError } from "../errors/PgError.ts"
import { Backend as Code } from "../wire/Codes.ts"
import type { Reader } from "../wire/Reader.ts"
import type { Connection, ConnectionHooks } from "./Connection.ts"
import type { Request } from "./Request.ts"
import { toNotice } from "./Result.ts"
import * as State from "./State.ts"

/**
 * Hands a reply the request accepts (`State.step` said so) to the request's hook for its kind.
 *
 * @since 0.1.0
 */
export const deliver = (connection: Connection, request: Request, message: Backend.BackendMessage): void => {
  switch (message._tag) {
    case "ParseComplete":
      return request.onParseComplete()
    case "BindComplete":
      return request.onBindComplete()
    case "ParameterDescription":
      return request.onParameterDescription(message)
    case "RowDescription":
      return request.onRowDescription(message)
    case "NoData":
      return request.onNoData()
    case "CommandComplete":
      return request.onCommandComplete(message.tag)
    case "EmptyQueryResponse":
      return request.onEmptyQuery()
    case "PortalSuspended":
      return request.onPortalSuspended(connection)
    case "CloseComplete":
      return request.onCloseComplete()
    case "CopyInResponse":
      return request.onCopyIn(connection, message)
    case "CopyOutResponse":
      return request.onCopyOut(message)
    case "CopyBothResponse":
      return request.onCopyBoth(connection, message)
    case "CopyDone":
      return request.onCopyDone()
    case "FunctionCallResponse":
      return request.onFunctionCallResponse(message)
    case "BackendKeyData":
      return request.onBackendKeyData(connection, message)
    case "NegotiateProtocolVersion":
      return request.onNegotiateProtocolVersion(connection, message)
    case "AuthenticationOk":
    case "AuthenticationKerberosV5":
    case "AuthenticationCleartextPassword":
    case "AuthenticationMD5Password":
    case "AuthenticationGSS":
    case "AuthenticationGSSContinue":
    case "AuthenticationSSPI":
    case "AuthenticationSASL":
    case "AuthenticationSASLContinue":
    case "AuthenticationSASLFinal":
      return request.onAuthentication(connection, message)
    default:
      return
  }
}

/**
 * A message `State` has no event for: a notice (kept on the request being answered, if any, and given to the
 * owner), a notification, a parameter's new value (kept in `connection.parameters`). Any other type byte is
 * unknown: a `ProtocolError`, thrown, which breaks the session.
 *
 * @since 0.1.0
 */
export const asynchronous = (
  connection: Connection,
  hooks: ConnectionHooks,
  reader: Reader,
  type: number,
  buf: Uint8Array,
  start: number,
  end: number,
  request: Request | undefined
): void => {
  switch (type) {
    case Code.NoticeResponse: {
      const message = Backend.readUnsafe(type, buf, start, end, reader) as Backend.NoticeResponse
      const notice = toNotice(message.fields)
      if (request !== undefined) (request.notices ??= []).push(notice)
      hooks.onNotice(notice)
      return
    }
    case Code.NotificationResponse: {
      const message = Backend.readUnsafe(type, buf, start, end, reader) as Backend.NotificationResponse
      hooks.onNotification(message.processId, message.channel, message.payload)
      return
    }
    case Code.ParameterStatus: {
      const message = Backend.readUnsafe(type, buf, start, end, reader) as Backend.ParameterStatus
      connection.parameters.set(message.name, message.value)
      hooks.onParameterStatus(message.name, message.value)
      return
    }
    default:
      throw new PgError({
        reason: new ProtocolError({
          message: `unknown message type ${State.messageName(type)} from the server`,
          messageName: State.messageName(type),
          offset: 0
        })
      })
  }
}
