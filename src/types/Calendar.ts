/**
 * Calendar arithmetic and the ISO text pieces shared by the date and time
 * codecs (`Temporal`, `TimeOfDay`, `Interval`): days since 1970-01-01 to and
 * from a civil date in the proleptic Gregorian calendar, with astronomical
 * years (1 BC is year 0), and the `YYYY-MM-DD` and `HH:MM:SS[.ffffff]` forms
 * the server prints in ISO DateStyle.
 *
 * **Details**
 *
 * `civilFromDays` fills the one shared `civil` object instead of returning a
 * new one: no allocation per decoded value.
 *
 * Not here: epochs, the binary layouts and the infinities (each codec's own).
 * Pure: no Effect runtime, no IO.
 *
 * @since 0.1.0
 */

/** Days since 1970-01-01 of a civil date. */
export const daysFromCivil = (year: number, month: number, day: number): number => {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

/** The civil date `civilFromDays` computed last (read it before the next call). */
export const civil = { year: 0, month: 0, day: 0 }

/** Fills `civil` with the date `days` after 1970-01-01 (no allocation). */
export const civilFromDays = (days: number): void => {
  const z = days + 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  civil.day = doy - Math.floor((153 * mp + 2) / 5) + 1
  civil.month = mp < 10 ? mp + 3 : mp - 9
  civil.year = yoe + era * 400 + (civil.month <= 2 ? 1 : 0)
}

/** `n` (0 to 99) in two digits. */
export const pad2 = (n: number): string => (n < 10 ? "0" + n : String(n))

/** `YYYY-MM-DD` of `civil`, and whether it is BC (ISO DateStyle prints the BC year count). */
export const formatCivilDate = (): string => {
  const bc = civil.year <= 0
  const y = bc ? 1 - civil.year : civil.year
  return String(y).padStart(4, "0") + "-" + pad2(civil.month) + "-" + pad2(civil.day)
}

/** `HH:MM:SS[.ffffff]` with trailing fractional zeros removed, from microseconds of the day. */
export const formatTimeOfDay = (us: number): string => {
  const totalSeconds = Math.floor(us / 1000000)
  const fraction = us - totalSeconds * 1000000
  const h = Math.floor(totalSeconds / 3600)
  const m = Math.floor((totalSeconds % 3600) / 60)
  const s = totalSeconds % 60
  let out = pad2(h) + ":" + pad2(m) + ":" + pad2(s)
  if (fraction > 0) out += "." + String(fraction).padStart(6, "0").replace(/0+$/, "")
  return out
}
