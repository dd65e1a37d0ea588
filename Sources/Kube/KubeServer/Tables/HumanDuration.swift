/// Ages as kubectl shows them (`45s`, `5m53s`, `3h`, `2d5h`, `400d`), from a number of seconds.
enum HumanDuration {
    static func format(seconds: Int64) -> String {
        if seconds < -1 { return "<invalid>" }
        if seconds < 0 { return "0s" }
        let s = seconds
        if s < 120 { return "\(s)s" }
        let m = s / 60
        if m < 10 {
            let rest = s % 60
            return rest == 0 ? "\(m)m" : "\(m)m\(rest)s"
        }
        if m < 180 { return "\(m)m" }
        let h = s / 3600
        if h < 8 {
            let rest = (s % 3600) / 60
            return rest == 0 ? "\(h)h" : "\(h)h\(rest)m"
        }
        if h < 48 { return "\(h)h" }
        if h < 192 {
            let rest = h % 24
            return rest == 0 ? "\(h / 24)d" : "\(h / 24)d\(rest)h"
        }
        let d = h / 24
        if d < 365 * 2 { return "\(d)d" }
        if d < 365 * 8 {
            let rest = d % 365
            return rest == 0 ? "\(d / 365)y" : "\(d / 365)y\(rest)d"
        }
        return "\(d / 365)y"
    }
}
