/**
 * The `pgoutput` messages that describe what later row changes refer to
 * (protocol-3.2 "Logical Replication Message Formats"): Relation 'R' (a
 * table's OID, name, replica identity and published columns with their type
 * OIDs and key flags) and Type 'Y' (the name of a non-built-in type, sent
 * before the Relation that uses it). Inside a stream both carry the
 * transaction's xid first.
 *
 * Re-exported by `PgOutput`, the public module. Not here: the relation and type
 * caches a client keeps (`replication/`). Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as Fields from "./Fields.ts"
import { Code, readStreamXid, type Spec, StreamXid, writeStreamXid } from "./PgOutputSpec.ts"

// ---------------------------------------------------------------------------
// Relation 'R'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const ReplicaIdentity = Schema.Literals(["d", "n", "f", "i"])
/** `relreplident`: 'd' default (primary key), 'n' nothing, 'f' full, 'i' index. @since 0.1.0 */
export type ReplicaIdentity = typeof ReplicaIdentity.Type

/** @since 0.1.0 */
export const RelationColumnSchema = Schema.Struct({
  /** Flags: 1 marks the column as part of the key, else 0. */
  flags: Fields.Byte1,
  /** Name of the column. */
  name: Fields.CString,
  /** OID of the column's data type. */
  typeOid: Fields.UInt32,
  /** Type modifier of the column (`atttypmod`). */
  typeModifier: Fields.Int32
})
/** @since 0.1.0 */
export interface RelationColumn extends Schema.Schema.Type<typeof RelationColumnSchema> {}

/** @since 0.1.0 */
export const RelationSchema = Schema.TaggedStruct("Relation", {
  /** Xid of the transaction (inside a stream only). */
  xid: StreamXid,
  /** OID of the relation. */
  relationOid: Fields.UInt32,
  /** Namespace (empty for `pg_catalog`). */
  namespace: Fields.CString,
  /** Relation name. */
  relationName: Fields.CString,
  /** Replica identity setting (`relreplident`). */
  replicaIdentity: ReplicaIdentity,
  /** The columns included in the publication. */
  columns: Schema.Array(RelationColumnSchema).check(Schema.isMaxLength(32767))
})
/** @since 0.1.0 */
export interface Relation extends Schema.Schema.Type<typeof RelationSchema> {}

export const RelationSpec: Spec<Relation> = {
  name: "Relation",
  type: Code.Relation,
  minVersion: 1,
  schema: RelationSchema,
  read: (r, ctx) => {
    const xid = readStreamXid(r, ctx)
    const relationOid = r.uint32()
    const namespace = r.cstring()
    const relationName = r.cstring()
    const identity = r.uint8()
    if (identity !== 0x64 && identity !== 0x6e && identity !== 0x66 && identity !== 0x69) {
      r.pos--
      r.fail(`unknown replica identity 0x${identity.toString(16).padStart(2, "0")}`)
    }
    const replicaIdentity = String.fromCharCode(identity) as ReplicaIdentity
    const n = r.count16("column", 32767)
    const columns: Array<RelationColumn> = new Array(n)
    for (let i = 0; i < n; i++) {
      const flags = r.uint8()
      const name = r.cstring()
      const typeOid = r.uint32()
      const typeModifier = r.int32()
      columns[i] = { flags, name, typeOid, typeModifier }
    }
    return xid === undefined
      ? { _tag: "Relation", relationOid, namespace, relationName, replicaIdentity, columns }
      : { _tag: "Relation", xid, relationOid, namespace, relationName, replicaIdentity, columns }
  },
  write: (w, m, ctx) => {
    writeStreamXid(w, m.xid, ctx, "Relation")
    if (m.columns.length > 32767) w.fail(`${m.columns.length} columns exceeds 32767`)
    w.uint32(m.relationOid).cstring(m.namespace).cstring(m.relationName).uint8(m.replicaIdentity.charCodeAt(0))
    w.int16(m.columns.length)
    for (const c of m.columns) w.uint8(c.flags).cstring(c.name).uint32(c.typeOid).int32(c.typeModifier)
  }
}

/**
 * Whether a Relation column is part of the replica identity key.
 *
 * @since 0.1.0
 */
export const isKeyColumn = (column: RelationColumn): boolean => (column.flags & 1) !== 0

// ---------------------------------------------------------------------------
// Type 'Y'
// ---------------------------------------------------------------------------

/** @since 0.1.0 */
export const TypeSchema = Schema.TaggedStruct("Type", {
  /** Xid of the transaction (inside a stream only). */
  xid: StreamXid,
  /** OID of the data type. */
  typeOid: Fields.UInt32,
  /** Namespace (empty for `pg_catalog`). */
  namespace: Fields.CString,
  /** Name of the data type. */
  typeName: Fields.CString
})
/**
 * The name of a non-built-in type, sent before the Relation that uses it.
 *
 * @since 0.1.0
 */
export interface Type extends Schema.Schema.Type<typeof TypeSchema> {}

export const TypeSpec: Spec<Type> = {
  name: "Type",
  type: Code.Type,
  minVersion: 1,
  schema: TypeSchema,
  read: (r, ctx) => {
    const xid = readStreamXid(r, ctx)
    const typeOid = r.uint32()
    const namespace = r.cstring()
    const typeName = r.cstring()
    return xid === undefined
      ? { _tag: "Type", typeOid, namespace, typeName }
      : { _tag: "Type", xid, typeOid, namespace, typeName }
  },
  write: (w, m, ctx) => {
    writeStreamXid(w, m.xid, ctx, "Type")
    w.uint32(m.typeOid).cstring(m.namespace).cstring(m.typeName)
  }
}
