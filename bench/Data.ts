/**
 * The data every benchmark reads: the SQL that produces the mixed-type rows,
 * the wide rows and the large jsonb documents, shared by the micro fixture
 * generator and the end-to-end suite so both measure the same shapes.
 *
 * Every expression is deterministic (no `random()`, no `now()`): the same
 * PostgreSQL version produces the same bytes, so fixtures can be regenerated
 * and compared.
 *
 * This module only builds SQL text; it runs nothing.
 *
 * @since 0.1.0
 */

/**
 * The nine columns of the "typical mixed row" (issue 7, workload 4): int4,
 * int8, text (with some NULLs), timestamptz, float8, bool, numeric, uuid and
 * jsonb, computed from the integer `g`.
 *
 * @since 0.1.0
 */
export const MIXED_COLUMNS = [
  "g::int4 as id",
  "g::int8 * 1000003 as big",
  "case when g % 10 = 0 then null else 'name-' || g || repeat('x', g % 17) end as label",
  "timestamptz '2024-01-01 00:00:00+00' + g * interval '37 minutes 12.345678 seconds' as created",
  "g * 1.25::float8 / 7 as score",
  "g % 3 = 0 as flag",
  "(g * 12345.6789)::numeric(16,4) as amount",
  "md5(g::text)::uuid as uid",
  "jsonb_build_object('id', g, 'tag', 't' || (g % 10), 'ok', g % 2 = 0) as doc"
] as const

/**
 * A `select` producing `rows` mixed rows.
 *
 * @since 0.1.0
 */
export const mixedRowsSql = (rows: number): string =>
  `select ${MIXED_COLUMNS.join(", ")} from generate_series(1, ${rows}) g`

/**
 * The definition of a table holding mixed rows (for COPY and the 1M-row scans).
 *
 * @since 0.1.0
 */
export const MIXED_TABLE_COLUMNS =
  "id int4, big int8, label text, created timestamptz, score float8, flag bool, amount numeric(16,4), uid uuid, doc jsonb"

/**
 * The columns of a wide row: 40 columns of int4, text, float8, bool and
 * timestamptz, in a repeating order.
 *
 * @since 0.1.0
 */
export const wideColumns = (): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (let c = 0; c < 40; c++) {
    switch (c % 5) {
      case 0:
        out.push(`(g * ${c + 1})::int4 as c${c}`)
        break
      case 1:
        out.push(`'col${c}-' || g as c${c}`)
        break
      case 2:
        out.push(`g::float8 / ${c + 3} as c${c}`)
        break
      case 3:
        out.push(`(g + ${c}) % 2 = 0 as c${c}`)
        break
      default:
        out.push(`timestamptz '2020-06-01 12:00:00+00' + (g * ${c}) * interval '1 second' as c${c}`)
    }
  }
  return out
}

/**
 * A `select` producing `rows` wide rows.
 *
 * @since 0.1.0
 */
export const wideRowsSql = (rows: number): string =>
  `select ${wideColumns().join(", ")} from generate_series(1, ${rows}) g`

/**
 * A `select` producing `rows` rows of `(id int4, doc jsonb)` where each
 * document is about 10 KB: 100 array items of a small object (issue 7,
 * workload 7).
 *
 * @since 0.1.0
 */
export const jsonDocsSql = (rows: number): string =>
  `select g::int4 as id, (select jsonb_build_object('id', g, 'name', 'document ' || g, 'items', ` +
  `jsonb_agg(jsonb_build_object('n', i, 'label', 'item-' || i || '-' || g, 'price', i * 1.5, 'tags', ` +
  `jsonb_build_array('a', 'b', i % 7)))) from generate_series(1, 100) i) as doc from generate_series(1, ${rows}) g`

/**
 * The definition of the table of nested jsonb documents (issue 22, workload 7b).
 * Its values are stored uncompressed (`storage external`), so the server sends
 * them without decompressing.
 *
 * @since 0.1.0
 */
export const WIDE_JSON_TABLE_COLUMNS = "id int4 primary key, doc jsonb"

/**
 * A `select` producing `rows` rows of `(id int4, doc jsonb)` where each
 * document is an object of 86 keys (`key_1` .. `key_86`), each holding a small
 * object of an integer, a 64-character hex string, a boolean and a decimal
 * (`1.5`, `3.0`, ...): about 10.3 KB of JSON text (issue 22, workload 7b).
 *
 * @since 0.1.0
 */
export const wideJsonDocsSql = (rows: number): string =>
  `select g::int4 as id, (select jsonb_object_agg('key_' || j, jsonb_build_object('n', g * j, ` +
  `'s', md5((g * j)::text) || md5(j::text), 'b', (g + j) % 2 = 0, 'f', j * 1.5)) ` +
  `from generate_series(1, 86) as k(j)) as doc from generate_series(1, ${rows}) as s(g)`
