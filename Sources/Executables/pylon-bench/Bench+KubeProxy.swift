import Foundation
import Processes
import PylonTestSupport

extension Bench {
    /// kube-proxy's rulesets for `count` Services × 3 endpoints, as its documentation lays them out, loaded in the
    /// node namespace of `scratch` the way kube-proxy loads them: its nftables mode (KEP-3866: a verdict map of
    /// service addresses, a chain per Service port picking an endpoint with `numgen random mod N vmap`, a chain per
    /// endpoint marking hairpin traffic and translating) in one `nft -f` transaction, then one Service's endpoint
    /// change (its chain flushed and written again with a new endpoint chain) ten times; its iptables mode
    /// (`KUBE-SERVICES` jumping to a `KUBE-SVC-` chain per Service port, `statistic` rules to a `KUBE-SEP-` chain per
    /// endpoint) by `iptables-legacy-restore`.
    static func kubeProxyReferences(_ scratch: ScratchNamespaces, _ directory: String, count: Int) async throws -> [(
        String, String, String
    )] {
        func clusterIP(_ i: Int) -> String { "10.43.\(1 + i / 256).\(i % 256)" }
        func serviceChain(_ i: Int) -> String { "service-\(hash(i))-default/proxy-\(i)/tcp/http" }
        func endpointChain(_ i: Int, _ address: String) -> String {
            "endpoint-\(hash(i))-default/proxy-\(i)/tcp/http__\(address)/8080"
        }
        func serviceRules(_ i: Int, _ addresses: [String]) -> [String] {
            let picks = addresses.enumerated().map { "\($0.offset) : goto \(endpointChain(i, $0.element))" }
            return [
                "ip daddr \(clusterIP(i)) tcp dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade",
                "numgen random mod \(addresses.count) vmap { \(picks.joined(separator: ", ")) }",
            ]
        }
        func endpointRules(_ address: String) -> [String] {
            ["ip saddr \(address) jump mark-for-masquerade", "meta l4proto tcp dnat to \(address):8080"]
        }
        func addresses(_ i: Int) -> [String] { (0..<3).map { endpointAddress(3 * i + $0) } }

        var nft = """
            table ip kube-proxy {
                map service-ips { type ipv4_addr . inet_proto . inet_service : verdict; }
                map service-nodeports { type inet_proto . inet_service : verdict; }
                chain nat-prerouting { type nat hook prerouting priority -100; jump services; }
                chain nat-output { type nat hook output priority -100; jump services; }
                chain nat-postrouting { type nat hook postrouting priority 100; jump masquerading; }
                chain mark-for-masquerade { mark set mark or 0x4000; }
                chain masquerading { mark and 0x4000 == 0 return; mark set mark xor 0x4000; masquerade fully-random; }
                chain services {
                    ip daddr . meta l4proto . th dport vmap @service-ips
                    fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports
                }
            }

            """
        for i in 0..<count {
            nft += "add chain ip kube-proxy \(serviceChain(i))\n"
            for address in addresses(i) {
                nft += "add chain ip kube-proxy \(endpointChain(i, address))\n"
                for rule in endpointRules(address) {
                    nft += "add rule ip kube-proxy \(endpointChain(i, address)) \(rule)\n"
                }
            }
            for rule in serviceRules(i, addresses(i)) { nft += "add rule ip kube-proxy \(serviceChain(i)) \(rule)\n" }
            nft += "add element ip kube-proxy service-ips { \(clusterIP(i)) . tcp . 80 : goto \(serviceChain(i)) }\n"
        }
        let nftFile = directory + "/kube-proxy.nft"
        try nft.write(toFile: nftFile, atomically: true, encoding: .utf8)
        let nftWhole = try await timed(scratch.names[0], ["nft", "-f", nftFile])

        var nftChanges: [Duration] = []
        for k in 0..<10 {
            let i = k * 97 % count
            let grown = addresses(i) + ["10.46.1.\(k + 1)"]
            let new = endpointChain(i, grown[3])
            var change = "add chain ip kube-proxy \(new)\n"
            for rule in endpointRules(grown[3]) { change += "add rule ip kube-proxy \(new) \(rule)\n" }
            change += "flush chain ip kube-proxy \(serviceChain(i))\n"
            for rule in serviceRules(i, grown) { change += "add rule ip kube-proxy \(serviceChain(i)) \(rule)\n" }
            let file = directory + "/kube-proxy-change.nft"
            try change.write(toFile: file, atomically: true, encoding: .utf8)
            nftChanges.append(try await timed(scratch.names[0], ["nft", "-f", file]))
        }

        func svc(_ i: Int) -> String { "KUBE-SVC-\(hash(i))\(String(hash(i).reversed()))" }
        func sep(_ i: Int, _ e: Int) -> String { "KUBE-SEP-\(hash(3 * i + e))\(String(e))\(hash(i).prefix(7))" }
        var chains = ["KUBE-SERVICES", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"]
        var rules = [
            #"-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES"#,
            #"-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES"#,
            #"-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING"#,
            "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000",
            "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
            "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000",
            "-A KUBE-POSTROUTING -j MASQUERADE --random-fully",
        ]
        for i in 0..<count {
            let comment = #"-m comment --comment "default/proxy-\#(i):http""#
            chains.append(svc(i))
            rules.append("-A KUBE-SERVICES -d \(clusterIP(i))/32 -p tcp \(comment) -m tcp --dport 80 -j \(svc(i))")
            rules.append(
                "-A \(svc(i)) ! -s 10.42.0.0/16 -d \(clusterIP(i))/32 -p tcp \(comment) -m tcp --dport 80 -j KUBE-MARK-MASQ"
            )
            for (e, address) in addresses(i).enumerated() {
                chains.append(sep(i, e))
                let pick =
                    e < 2
                    ? " -m statistic --mode random --probability \(e == 0 ? "0.33333333349" : "0.50000000000")" : ""
                rules.append("-A \(svc(i)) \(comment)\(pick) -j \(sep(i, e))")
                rules.append("-A \(sep(i, e)) -s \(address)/32 \(comment) -j KUBE-MARK-MASQ")
                rules.append("-A \(sep(i, e)) -p tcp \(comment) -m tcp -j DNAT --to-destination \(address):8080")
            }
        }
        let restore =
            "*nat\n" + ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"].map { ":\($0) ACCEPT [0:0]\n" }.joined()
            + chains.map { ":\($0) - [0:0]\n" }.joined() + rules.joined(separator: "\n") + "\nCOMMIT\n"
        let iptablesFile = directory + "/kube-proxy.iptables"
        try restore.write(toFile: iptablesFile, atomically: true, encoding: .utf8)
        let iptablesWhole = try await timed(scratch.names[0], ["iptables-legacy-restore", iptablesFile])
        return [
            (
                "proxy reference: kube-proxy's nftables layout, \(count) Services × 3, `nft -f`", ms(nftWhole),
                "one transaction, \(nft.split(separator: "\n").count) lines"
            ),
            (
                "proxy reference: kube-proxy's iptables layout, \(count) Services × 3, `iptables-legacy-restore`",
                ms(iptablesWhole), "\(rules.count) rules in \(chains.count) chains"
            ),
            (
                "proxy reference: kube-proxy's nftables layout, one endpoint change by `nft -f` (10 changes)",
                "p50 \(ms(percentile(nftChanges, 0.5)))", "max \(ms(nftChanges.max() ?? .zero)), at \(count) Services"
            ),
        ]
    }

    /// Eight characters naming Service `i`, as kube-proxy's hashes do.
    static func hash(_ i: Int) -> String {
        let hex = String(UInt32(truncatingIfNeeded: i &* 2_654_435_761), radix: 36, uppercase: true)
        return String(repeating: "0", count: max(0, 8 - hex.count)) + hex.suffix(8)
    }

    /// How long `command` takes in namespace `namespace`.
    /// - Throws: `BenchError` with its output when it fails.
    static func timed(_ namespace: String, _ command: [String]) async throws -> Duration {
        let start = ContinuousClock.now
        let run = try await ChildProcess.run("/usr/sbin/ip", ["netns", "exec", namespace] + command)
        let took = start.duration(to: .now)
        guard run.succeeded else {
            throw BenchError("\(command.joined(separator: " ")) failed: \(run.standardError.prefix(2000))")
        }
        return took
    }
}
