/// RFC 3339 timestamps as Kubernetes writes them (`2026-11-25T15:44:59Z`, second precision, UTC).
///
/// Pure conversion between seconds since the Unix epoch and text; no clock is read here.
public enum Timestamp {
    /// Formats whole seconds since the epoch as `YYYY-MM-DDThh:mm:ssZ`.
    public static func format(epochSeconds: Int64) -> String {
        let days = floorDiv(epochSeconds, 86_400)
        let secondsOfDay = epochSeconds - days * 86_400
        let (y, m, d) = civil(fromDays: days)
        let hh = secondsOfDay / 3600
        let mm = (secondsOfDay % 3600) / 60
        let ss = secondsOfDay % 60
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(hh, 2)):\(pad(mm, 2)):\(pad(ss, 2))Z"
    }

    /// Formats with microseconds (`metav1.MicroTime`, used by Leases and events.k8s.io Events).
    public static func formatMicro(epochMicroseconds: Int64) -> String {
        let seconds = floorDiv(epochMicroseconds, 1_000_000)
        let micros = epochMicroseconds - seconds * 1_000_000
        var text = format(epochSeconds: seconds)
        text.removeLast()
        return text + "." + pad(micros, 6) + "Z"
    }

    /// Parses an RFC 3339 timestamp (fractional seconds and numeric offsets accepted) into microseconds since the
    /// epoch; `nil` when the text is not RFC 3339.
    public static func parseMicro(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        guard b.count >= 20 else { return nil }
        func num(_ r: Range<Int>) -> Int64? {
            var v: Int64 = 0
            for i in r {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int64(b[i] - 48)
            }
            return v
        }
        guard let y = num(0..<4), b[4] == 45, let mo = num(5..<7), b[7] == 45, let d = num(8..<10),
            b[10] == 84 || b[10] == 116 || b[10] == 32, let h = num(11..<13), b[13] == 58, let mi = num(14..<16),
            b[16] == 58, let s = num(17..<19), (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61
        else { return nil }
        var i = 19
        var micros: Int64 = 0
        if i < b.count, b[i] == 46 {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if digits < 6 { micros = micros * 10 + Int64(b[i] - 48) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 6) { micros *= 10 }
        }
        guard i < b.count else { return nil }
        var offset: Int64 = 0
        if b[i] == 90 || b[i] == 122 {
            i += 1
        } else if b[i] == 43 || b[i] == 45, i + 6 == b.count, b[i + 3] == 58, let oh = num((i + 1)..<(i + 3)),
            let om = num((i + 4)..<(i + 6))
        {
            offset = (oh * 3600 + om * 60) * (b[i] == 43 ? 1 : -1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let seconds = days(fromCivil: y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset
        return seconds * 1_000_000 + micros
    }

    /// Parses an RFC 3339 timestamp into whole seconds since the epoch.
    public static func parse(_ text: String) -> Int64? {
        parseMicro(text).map { floorDiv($0, 1_000_000) }
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        a >= 0 ? a / b : (a - b + 1) / b
    }

    private static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    // Howard Hinnant's days-from-civil algorithms (public domain arithmetic).
    private static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    private static func days(fromCivil y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
