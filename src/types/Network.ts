/**
 * Network address codecs: `inet`, `cidr`, `macaddr`, `macaddr8`, as the
 * strings the server prints.
 *
 * **Details**
 *
 * - Binary `inet`/`cidr` (`inet_send`): family byte (2 = IPv4, 3 = IPv6),
 *   prefix bits, is-cidr flag, address length (4 or 16), address bytes. The
 *   text is formatted exactly as `network_out` does (PostgreSQL's
 *   `inet_net_ntop`): `inet` omits a full-length prefix (`/32`, `/128`), `cidr`
 *   always shows it; IPv6 compresses the longest run of two or more zero words
 *   and shows an embedded IPv4 address for `::a.b.c.d` and `::ffff:a.b.c.d`.
 * - `macaddr` (6 bytes) and `macaddr8` (8 bytes) print as lowercase
 *   colon-separated hex.
 * - Parameters are strings, sent as text for the server's own parser.
 *
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import { Oid } from "./Oid.ts"
import * as TypeCodec from "./TypeCodec.ts"

const PGSQL_AF_INET = 2
const PGSQL_AF_INET6 = 3

const formatIpv6 = (buf: Uint8Array, p: number): string => {
  const words = [0, 0, 0, 0, 0, 0, 0, 0]
  for (let i = 0; i < 8; i++) words[i] = (buf[p + 2 * i]! << 8) | buf[p + 2 * i + 1]!
  let bestBase = -1
  let bestLen = 0
  let curBase = -1
  let curLen = 0
  for (let i = 0; i < 8; i++) {
    if (words[i] === 0) {
      if (curBase === -1) {
        curBase = i
        curLen = 1
      } else curLen++
    } else if (curBase !== -1) {
      if (bestBase === -1 || curLen > bestLen) {
        bestBase = curBase
        bestLen = curLen
      }
      curBase = -1
    }
  }
  if (curBase !== -1 && (bestBase === -1 || curLen > bestLen)) {
    bestBase = curBase
    bestLen = curLen
  }
  if (bestBase !== -1 && bestLen < 2) bestBase = -1
  let out = ""
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ":"
      continue
    }
    if (i !== 0) out += ":"
    if (
      i === 6 && bestBase === 0 &&
      (bestLen === 6 || (bestLen === 7 && words[7] !== 1) || (bestLen === 5 && words[5] === 0xffff))
    ) {
      out += `${buf[p + 12]}.${buf[p + 13]}.${buf[p + 14]}.${buf[p + 15]}`
      return out
    }
    out += words[i]!.toString(16)
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) out += ":"
  return out
}

const decodeInet = (type: string, cidr: boolean) => (buf: Uint8Array, start: number, end: number): string => {
  if (end - start < 4) return TypeCodec.fail(type, `expected at least 4 bytes, got ${end - start}`)
  const family = buf[start]!
  const bits = buf[start + 1]!
  const flag = buf[start + 2]!
  const nb = buf[start + 3]!
  const size = family === PGSQL_AF_INET ? 4 : family === PGSQL_AF_INET6 ? 16 : -1
  if (size < 0) return TypeCodec.fail(type, `invalid address family ${family}`)
  if (nb !== size || end - start !== 4 + size) return TypeCodec.fail(type, "invalid address length")
  if (bits > size * 8) return TypeCodec.fail(type, `invalid prefix length ${bits}`)
  if (flag > 1) return TypeCodec.fail(type, `invalid cidr flag ${flag}`)
  const p = start + 4
  const address = size === 4
    ? `${buf[p]}.${buf[p + 1]}.${buf[p + 2]}.${buf[p + 3]}`
    : formatIpv6(buf, p)
  return cidr || bits !== size * 8 ? `${address}/${bits}` : address
}

const stringOnly = (type: string) => (value: unknown): string =>
  typeof value === "string" ? TypeCodec.checkText(type, value) : TypeCodec.unsupported(type, value, "a string")

/** @since 0.1.0 */
export const inet: TypeCodec.TypeCodec<string> = TypeCodec.make<string>({
  name: "inet",
  oid: Oid.inet,
  arrayOid: Oid._inet,
  decodeBinary: decodeInet("inet", false),
  decodeText: (buf, start, end) => TypeCodec.utf8("inet", buf, start, end),
  encodeText: stringOnly("inet")
})

/** @since 0.1.0 */
export const cidr: TypeCodec.TypeCodec<string> = TypeCodec.make<string>({
  name: "cidr",
  oid: Oid.cidr,
  arrayOid: Oid._cidr,
  decodeBinary: decodeInet("cidr", true),
  decodeText: (buf, start, end) => TypeCodec.utf8("cidr", buf, start, end),
  encodeText: stringOnly("cidr")
})

const makeMac = (name: string, oid: number, arrayOid: number, size: number): TypeCodec.TypeCodec<string> =>
  TypeCodec.make<string>({
    name,
    oid,
    arrayOid,
    decodeBinary: (buf, start, end) => {
      TypeCodec.expectLength(name, start, end, size)
      return TypeCodec.hex(buf, start, end, ":")
    },
    decodeText: (buf, start, end) => TypeCodec.utf8(name, buf, start, end),
    encodeText: stringOnly(name)
  })

/** @since 0.1.0 */
export const macaddr = makeMac("macaddr", Oid.macaddr, Oid._macaddr, 6)
/** @since 0.1.0 */
export const macaddr8 = makeMac("macaddr8", Oid.macaddr8, Oid._macaddr8, 8)
