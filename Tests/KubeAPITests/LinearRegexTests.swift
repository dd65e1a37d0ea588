import KubeAPI
import Testing

/// `LinearRegex` answers as Go's `regexp.MatchString` does. Where a case comes from Go's own tests
/// (`src/regexp/find_test.go`, `src/regexp/syntax/parse_test.go`) it is the pattern, the text and whether Go finds a
/// match there; the others are the constructs CRD authors write.
@Suite struct LinearRegexTests {
    static let goFindCases: [(String, String, Bool)] = [
        ("", "", true), ("^abcdefg", "abcdefg", true), ("a+", "baaab", true), ("x", "y", false),
        ("abcd..", "abcdef", true), (".*", "abcdef", true), ("$", "abcde", true), ("^abcd$", "abcd", true),
        ("^bcd'", "abcdef", false), ("^abcd$", "abcde", false), ("[^a-z]+", "ab1234cd", true),
        (#"[a\-\]z]+"#, "az]-bcz", true), (#"[^\n]+"#, "abcd\n", true), ("[日本語]+", "日本語日本語", true),
        ("日本語+", "日本語語語語", true), (#"\a\f\n\r\t\v"#, "\u{7}\u{C}\n\r\t\u{B}", true),
        (#"[\a\f\n\r\t\v]+"#, "\u{7}\u{C}\n\r\t\u{B}", true), ("a*(|(b))c*", "aacc", true), ("[.]", ".", true),
        ("/$", "/abc/", true), ("/$", "/abc", false), ("ab$", "cab", true), ("axxb$", "axxcb", false),
        ("da(.)a$", "daXY data", true), ("(aa)*$", "a", true), ("(?:.|(?:.a))", "", false),
        ("(?:A(?:A|a))", "Aa", true), ("(?:A|(?:A|a))", "a", true), ("(a){0}", "", true),
        ("(?-s)(?:(?:^).)", "\n", false), ("(?s)(?:(?:^).)", "\n", true), ("(?:(?:^).)", "\n", false),
        (#"\b"#, "x", true), (#"\B"#, "x", false), (#"\B"#, "xx", true), (#"\B"#, "x y", false),
        ("(|a)*", "aa", true), ("0A|0[aA]", "0a", true), ("[a-c]*", "\u{65e5}", true),
        (#"[^\S\s]"#, "abcd", false), (#"[^\S[:space:]]"#, "abcd", false), (#"[^\D\d]"#, "abcd", false),
        (#"[^\D[:digit:]]"#, "abcd", false), (#"(?i)\W"#, "x", false), (#"(?i)\W"#, "k", false),
        (
            ##"\!\"\#\$\%\&\'\(\)\*\+\,\-\.\/\:\;\<\=\>\?\@\[\\\]\^\_\{\|\}\~"##,
            ##"!"#$%&'()*+,-./:;<=>?@[\]^_{|}~"##, true
        ),
        ("\\`", "`", true), (#"\x{fffd}"#, "\u{fffd}", true),
    ]

    @Test func matchesAsGoDoes() throws {
        for (pattern, text, expected) in Self.goFindCases {
            #expect(try LinearRegex(pattern).matches(text) == expected, "\(pattern) against \(text.debugDescription)")
        }
    }

    @Test(arguments: [
        // DNS labels and names, as CRDs (MetalLB's among them) constrain them.
        (#"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"#, "web-1", true), (#"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"#, "Web", false),
        (#"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"#, "web-", false),
        (#"^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$"#, "192.0.2.0/24", true),
        (#"^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$"#, "192.0.2/24", false),
        ("(?i)abc", "xABCx", true), ("(?i)[^a]", "A", false), ("(?i:k)x", "KX", false), ("(?i:k)x", "Kx", true),
        ("a(?i)b|c", "C", true), (#"\pL+"#, "é", true), (#"\p{Lu}"#, "a", false), (#"\PL"#, "a", false),
        (#"\p{^L}"#, "1", true), (#"[\p{Nd}x]"#, "٣", true), (#"[^\PL]"#, "a", true), (#"\p{Any}"#, "☺", true),
        ("a{2,3}", "a", false), ("a{2,3}", "aa", true), ("^a{2}$", "aaa", false), ("^a{2,}$", "aaaaa", true),
        ("a{,3}", "a{,3}", true), ("x{", "x{", true), (#"\x{263a}"#, "☺", true), (#"\x41"#, "A", true),
        (#"\101"#, "A", true), (#"\Qa.b\E"#, "a.b", true), (#"\Qa.b\E"#, "axb", false), (#"^\Qab\E*$"#, "abbb", true),
        ("(?m)^b$", "a\nb\nc", true), ("^b$", "a\nb\nc", false), ("a$", "a\n", false), (#"\Aa\z"#, "a", true),
        ("(?P<name>x)(?<other>y)", "xy", true), ("[[:alpha:]]+[[:^alpha:]]", "ab1", true), ("a*?b+?", "b", true),
        ("(?U)a+", "a", true), ("[]a]", "]", true), ("[-a]", "-", true), ("[a-]", "-", true),
        ("[[:word]", ":", true), ("[[:word]", "x", false),
    ])
    func constructsOfCRDPatterns(pattern: String, text: String, expected: Bool) throws {
        #expect(try LinearRegex(pattern).matches(text) == expected)
    }

    /// Go refuses these (`regexp/syntax` invalidRegexps, and RE2's missing backreferences and lookaround); so does
    /// LinearRegex, naming the same problem.
    @Test(arguments: [
        ("(", "missing closing )"), (")", "unexpected )"), ("(a", "missing closing )"), ("a)", "unexpected )"),
        ("(a))", "unexpected )"), ("(a|b|", "missing closing )"), ("a|b|)", "unexpected )"),
        ("[a-z", "missing closing ]"), ("([a-z)", "missing closing ]"), ("[a-z)", "missing closing ]"),
        ("x{1001}", "invalid repeat count"), ("x{9876543210}", "invalid repeat count"),
        ("x{2,1}", "invalid repeat count"), ("x{1,9876543210}", "invalid repeat count"),
        ("(x{100}){100}", "invalid repeat count"), ("a**", "invalid nested repetition operator"),
        ("a*+", "invalid nested repetition operator"), ("a??*", "invalid nested repetition operator"),
        ("*", "missing argument to repetition operator"), ("(*)", "missing argument to repetition operator"),
        ("a|*", "missing argument to repetition operator"), (#"\Q\E*"#, "missing argument to repetition operator"),
        ("(?i)*", "missing argument to repetition operator"), ("{2}", "missing argument to repetition operator"),
        (#"\8"#, "invalid escape sequence"), (#"\1"#, "invalid escape sequence"), (#"\x"#, "invalid escape sequence"),
        (#"\xz"#, "invalid escape sequence"), (#"\x{110000}"#, "invalid escape sequence"),
        (#"\y"#, "invalid escape sequence"), ("a\\", "trailing backslash at end of expression"),
        ("(?P<name>a", "missing closing )"), ("(?P<x y>a)", "invalid named capture"),
        ("(?P<>a)", "invalid named capture"),
        ("(?P=name)", "invalid or unsupported Perl syntax"), ("(?=x)", "invalid or unsupported Perl syntax"),
        ("(?!x)", "invalid or unsupported Perl syntax"), ("(?<=x)", "invalid named capture"),
        ("(?i", "missing closing )"), ("(?)", "invalid or unsupported Perl syntax"),
        ("(?-)", "invalid or unsupported Perl syntax"), ("(?i-i-i)", "invalid or unsupported Perl syntax"),
        ("[a-Z]", "invalid character class range"), ("[z-a]", "invalid character class range"),
        (#"\p{Greek}"#, "invalid character class range"), ("[[:foo:]]", "invalid character class range"),
        ("[[:word:]", "missing closing ]"),
    ])
    func refusesWhatGoRefuses(pattern: String, problem: String) {
        #expect {
            _ = try LinearRegex(pattern)
        } throws: { error in
            (error as? LinearRegex.SyntaxError)?.description.hasPrefix(problem) == true
        }
    }

    /// The patterns that make a backtracking matcher take exponential time cost LinearRegex steps in proportion
    /// to the text: at most 20 thread steps per scalar whatever the length (counted, not timed), where Swift's
    /// backtracking `Regex` took 5.5 s for eighteen `a`s and a `!` against `(a+)+$` on this machine.
    @Test func catastrophicPatternsCostLinearWork() throws {
        for (pattern, unit) in [("(a+)+$", "a"), ("(x+x+)+y", "x"), ("(a|aa)+$", "a"), ("^(a|a?)+$", "a")] {
            let regex = try LinearRegex(pattern)
            for length in [30, 300, 3000] {
                let text = String(repeating: unit, count: length) + "!"
                var budget = 20 * (length + 1)
                #expect(regex.matches(text, budget: &budget) == false, "\(pattern) × \(length)")
            }
        }
        // The budget is honoured and shared: asked to spend less than the text needs, the answer is "too costly",
        // and what one call spent is gone for the next.
        let costly = try LinearRegex("[a-z]{100}$")
        var budget = 10_000
        #expect(costly.matches(String(repeating: "a", count: 5000) + "!", budget: &budget) == nil)
        #expect(costly.matches("a", budget: &budget) == nil)
    }

    /// Strings whose checks would cost more than the validator's pattern budget, together, are refused by name
    /// rather than matched for as long as it takes: 3,000 `a`s keep a hundred threads alive against `[a-z]{100}$`.
    @Test func stringsCostingMoreThanTheBudgetAreRefusedByName() {
        let item: JSON = ["type": "string", "pattern": "[a-z]{100}$"]
        let schema: JSON = ["type": "object", "properties": ["names": ["type": "array", "items": item]]]
        let validator = SchemaValidator(schema: schema, patternBudget: 500_000)
        let long = JSON.string(String(repeating: "a", count: 3000) + "!")
        // One string costs about 300,000 steps: the first fits, the second does not, the third is not tried.
        let outcome = validator.validate(["names": [long, long, long]])
        #expect(
            outcome.causes.map(\.message) == [
                "Invalid value: \"\(long.stringValue!)\": names[0] in body should match '[a-z]{100}$'",
                "Invalid value: names[1] in body is too long to be checked against '[a-z]{100}$'",
                "Invalid value: names[2] in body is too long to be checked against '[a-z]{100}$'",
            ])
        #expect(validator.validate(["names": [.string(String(repeating: "a", count: 100))]]).causes.isEmpty)
    }

    @Test func nestingAndProgramSizeAreBounded() {
        let deep = String(repeating: "(", count: 1001) + "a" + String(repeating: ")", count: 1001)
        #expect(throws: LinearRegex.SyntaxError.self) { try LinearRegex(deep) }
        let atLimit = String(repeating: "(", count: 1000) + "a" + String(repeating: ")", count: 1000)
        #expect((try? LinearRegex(atLimit))?.matches("a") == true)
        // 1000 × 200 instructions: more than the program may hold.
        let large = String(repeating: "[a-z]{1000}", count: 200)
        #expect {
            _ = try LinearRegex(large)
        } throws: { error in
            (error as? LinearRegex.SyntaxError)?.description.hasPrefix("expression too large") == true
        }
    }
}
