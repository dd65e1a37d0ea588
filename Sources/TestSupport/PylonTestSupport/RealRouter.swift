import Foundation
import Lab
import LabRuntime
import NetCore

/// A real BGP router for interop tests — BIRD 2, FRR's bgpd or GoBGP, from Debian's packages — running in a lab host,
/// passive, with one neighbour, importing everything it is sent and exporting nothing. Read through its own CLI.
///
/// Methods block on child processes; use them from tests. `stop()` always ends the router.
public struct RealRouter: Sendable {
    public enum Kind: String, Sendable, CaseIterable, CustomStringConvertible {
        case bird, frr, gobgp
        public var description: String { rawValue }
    }

    public let kind: Kind
    public let lab: LabNetwork
    public let host: String
    public let directory: String
    /// The router's processes (FRR: zebra, then bgpd).
    public let processes: [BackgroundProcess]

    /// What the router's processes printed.
    public var log: String { processes.map(\.text).joined(separator: "\n") }

    /// Starts `kind` in `host` (AS `asn`, router ID = its management address) for `neighbors` in AS `neighborASN`
    /// (BIRD names the sessions `speaker`, `speaker2`, …), hold time 9 s (BIRD: 1–2 s before it takes a failed
    /// session back), IPv4 and IPv6 unicast (over the IPv4 session), equal paths from several neighbours used
    /// together (FRR: `maximum-paths`), TCP-MD5 signed with `password` when given.
    /// `ttlSecurity` (BIRD only) turns on RFC 5082's check: only packets that arrive with TTL 255 are accepted;
    /// `gracefulRestart` (BIRD only) offers RFC 4724 graceful restart and keeps a restarting neighbour's routes.
    /// `bfd` (BIRD, FRR; GoBGP has no BFD) runs a single-hop BFD session with the neighbour, 300 ms × 3 both ways,
    /// that ends the BGP session when it goes down. Files go to `directory`.
    public static func start(
        _ kind: Kind, in lab: LabNetwork, host: String, asn: UInt32, neighbors: [String], neighborASN: UInt32,
        password: String? = nil, ttlSecurity: Bool = false, gracefulRestart: Bool = false, bfd: Bool = false,
        directory: String
    ) throws -> RealRouter {
        precondition(!bfd || kind != .gobgp, "GoBGP has no BFD")
        let id = lab.topology.managementAddress(of: host).description
        let namespace = lab.topology.namespace(of: host)
        var argv: [String]
        var before: [[String]] = []
        switch kind {
        case .bird:
            let sessions = neighbors.enumerated().map { index, neighbor in
                """
                protocol bgp speaker\(index == 0 ? "" : "\(index + 1)") {
                  local \(id) as \(asn);
                  neighbor \(neighbor) as \(neighborASN);
                  passive on;
                  direct;
                  hold time 9;
                  error wait time 1, 2;\(password.map { "\n  password \"\($0)\";" } ?? "")\(ttlSecurity ? "\n  ttl security on;" : "")\(gracefulRestart ? "\n  graceful restart on;" : "")\(bfd ? "\n  bfd on;" : "")
                  ipv4 { import all; export none; };
                  ipv6 { import all; export none; };
                }
                """
            }
            try """
            log stderr all;
            router id \(id);
            protocol device { scan time 1; }\(bfd ? "\nprotocol bfd { interface \"*\" { min rx interval 300 ms; min tx interval 300 ms; multiplier 3; }; }" : "")

            """.appending(sessions.joined(separator: "\n")).write(
                toFile: directory + "/bird.conf", atomically: false, encoding: .utf8)
            argv = ["bird", "-f", "-c", directory + "/bird.conf", "-s", directory + "/bird.ctl"]
        case .frr:
            // zebra (bgpd resolves next hops through it) and bgpd, installing nothing in the kernel. zebra and bfdd
            // run as FRR's user (their vty sockets need its group), so the directory is handed to it; bgpd stays
            // root (`-S`).
            try FileManager.default.setAttributes([.ownerAccountName: "frr"], ofItemAtPath: directory)
            let peers = neighbors.map { neighbor in
                """
                 neighbor \(neighbor) remote-as \(neighborASN)
                 neighbor \(neighbor) passive
                 neighbor \(neighbor) timers 3 9\(password.map { "\n neighbor \(neighbor) password \($0)" } ?? "")\(bfd ? "\n neighbor \(neighbor) bfd" : "")
                """
            }.joined(separator: "\n")
            func family(_ name: String) -> String {
                (["address-family \(name) unicast", " maximum-paths 8", " maximum-paths ibgp 8"]
                    + neighbors.map { " neighbor \($0) activate" } + ["exit-address-family"]).map { " " + $0 }
                    .joined(separator: "\n")
            }
            try """
            frr defaults traditional
            hostname \(host)
            router bgp \(asn)
             bgp router-id \(id)
             no bgp ebgp-requires-policy
            \(peers)
            \(family("ipv4"))
            \(family("ipv6"))
            """.write(toFile: directory + "/bgpd.conf", atomically: false, encoding: .utf8)
            try "hostname \(host)\n".write(toFile: directory + "/zebra.conf", atomically: false, encoding: .utf8)
            before = [
                [
                    "/usr/lib/frr/zebra", "-f", directory + "/zebra.conf", "-i", directory + "/zebra.pid",
                    "--vty_socket",
                    directory, "-z", directory + "/zserv.api", "-u", "frr", "-g", "frr", "-P", "0",
                ]
            ]
            if bfd {
                // bfdd (FRR's default timers: 300 ms × 3) takes bgpd's session requests through zebra.
                try "hostname \(host)\n".write(toFile: directory + "/bfdd.conf", atomically: false, encoding: .utf8)
                before.append([
                    "/usr/lib/frr/bfdd", "-f", directory + "/bfdd.conf", "-i", directory + "/bfdd.pid",
                    "--vty_socket", directory, "-z", directory + "/zserv.api", "--bfdctl", directory + "/bfdd.sock",
                    "-u", "frr", "-g", "frr", "-P", "0",
                ])
            }
            argv = [
                "/usr/lib/frr/bgpd", "-f", directory + "/bgpd.conf", "-i", directory + "/bgpd.pid", "--vty_socket",
                directory, "-z", directory + "/zserv.api", "-S", "-n", "-P", "0",
            ]
        case .gobgp:
            try """
            [global.config]
              as = \(asn)
              router-id = "\(id)"
              local-address-list = ["\(id)"]

            """.appending(
                neighbors.map { neighbor in
                    """
                    [[neighbors]]
                      [neighbors.config]
                        neighbor-address = "\(neighbor)"
                        peer-as = \(neighborASN)\(password.map { "\n    auth-password = \"\($0)\"" } ?? "")
                      [neighbors.transport.config]
                        passive-mode = true
                      [neighbors.timers.config]
                        hold-time = 9
                      [[neighbors.afi-safis]]
                        [neighbors.afi-safis.config]
                          afi-safi-name = "ipv4-unicast"
                      [[neighbors.afi-safis]]
                        [neighbors.afi-safis.config]
                          afi-safi-name = "ipv6-unicast"

                    """
                }.joined()
            ).write(toFile: directory + "/gobgpd.toml", atomically: false, encoding: .utf8)
            argv = ["gobgpd", "-f", directory + "/gobgpd.toml", "-t", "toml", "--api-hosts", "127.0.0.1:50051"]
        }
        var processes: [BackgroundProcess] = []
        do {
            for command in before + [argv] {
                processes.append(try BackgroundProcess("/usr/sbin/ip", ["netns", "exec", namespace] + command))
                if command != argv {
                    // bgpd connects to zebra's socket once it exists.
                    let socket = directory + "/zserv.api"
                    for _ in 0..<100 where !FileManager.default.fileExists(atPath: socket) {
                        Thread.sleep(forTimeInterval: 0.05)
                    }
                }
            }
        } catch {
            for process in processes { process.kill() }
            throw error
        }
        return RealRouter(kind: kind, lab: lab, host: host, directory: directory, processes: processes)
    }

    private func cli(_ arguments: [String]) throws -> String {
        switch kind {
        case .bird: return try lab.exec(host, ["birdc", "-s", directory + "/bird.ctl"] + arguments).output
        case .frr: return try lab.exec(host, ["vtysh", "--vty_socket", directory] + arguments).output
        case .gobgp: return try lab.exec(host, ["gobgp", "-u", "127.0.0.1", "-p", "50051"] + arguments).output
        }
    }

    /// Whether the router reports the session as established.
    public func isEstablished() throws -> Bool {
        switch kind {
        case .bird: return try cli(["show", "protocols", "speaker"]).contains("Established")
        case .frr: return try cli(["-c", "show bgp neighbors"]).contains("BGP state = Established")
        case .gobgp: return try cli(["neighbor"]).contains("Establ")
        }
    }

    /// The router's IPv4 and IPv6 routes learnt from the neighbour, with their attributes, as its CLI prints them.
    public func routes() throws -> String {
        switch kind {
        case .bird: return try cli(["show", "route", "all"])
        case .frr:
            // Each table, then each route in detail (communities are shown per route only).
            return try ["ipv4", "ipv6"].map { family in
                let table = try cli(["-c", "show bgp \(family) unicast"])
                // Route lines start with status codes glued to the prefix ("*>i192.0.2.100/32", "*> 2001:db8::/64").
                let prefixes = table.split(whereSeparator: { $0 == " " || $0 == "\n" }).map {
                    $0.drop { !$0.isHexDigit }
                }.filter { $0.contains("/") && $0.contains(family == "ipv4" ? "." : ":") }
                guard !prefixes.isEmpty else { return table }
                return table + (try cli(prefixes.flatMap { ["-c", "show bgp \(family) unicast \($0)"] }))
            }.joined(separator: "\n")
        case .gobgp: return try cli(["global", "rib", "-a", "ipv4"]) + "\n" + cli(["global", "rib", "-a", "ipv6"])
        }
    }

    /// How the CLI shows a community, a large community, and an AS path of one AS.
    public func community(_ asn: UInt16, _ value: UInt16) -> String {
        switch kind {
        case .bird: return "BGP.community: (\(asn),\(value))"
        case .frr: return "Community: \(asn):\(value)"
        case .gobgp: return "\(asn):\(value)"
        }
    }

    public func largeCommunity(_ global: UInt32, _ local1: UInt32, _ local2: UInt32) -> String {
        switch kind {
        case .bird: return "BGP.large_community: (\(global), \(local1), \(local2))"
        case .frr: return "Large Community: \(global):\(local1):\(local2)"
        case .gobgp: return "\(global):\(local1):\(local2)"
        }
    }

    public func asPath(_ asn: UInt32) -> String {
        switch kind {
        case .bird: return "BGP.as_path: \(asn)"
        case .frr: return "  \(asn)\n"
        case .gobgp: return " \(asn) "
        }
    }

    public func localPreference(_ value: UInt32) -> String {
        switch kind {
        case .bird: return "BGP.local_pref: \(value)"
        case .frr: return "localpref \(value)"
        case .gobgp: return "{LocalPref: \(value)}"
        }
    }

    public func nextHop(_ address: String) -> String {
        switch kind {
        case .bird: return "BGP.next_hop: \(address)"
        case .frr: return "\(address) from \(address)"
        case .gobgp: return address
        }
    }

    /// The next hops of the paths the router holds for `prefix` (an IPv4 prefix) and, for FRR, of those it uses
    /// together (multipath); BIRD and GoBGP keep every path and have no such mark, so both lists are the same.
    public func paths(to prefix: String) throws -> (held: [String], multipath: [String]) {
        switch kind {
        case .bird:
            // "\tvia 198.18.0.2 on mgmt0" under each path's line.
            let text = try cli(["show", "route", "for", prefix, "all"])
            let hops = text.split(separator: "\n").compactMap { line -> String? in
                let words = line.split(whereSeparator: \.isWhitespace)
                guard words.first == "via", words.count > 1 else { return nil }
                return String(words[1])
            }
            return (hops, hops)
        case .frr:
            // Each path: "  64512\n    198.18.0.2 from 198.18.0.2 (…)\n      Origin IGP, valid, external, multipath…".
            let lines = try cli(["-c", "show bgp ipv4 unicast \(prefix)"]).split(separator: "\n")
            var held: [String] = []
            var multipath: [String] = []
            for (i, line) in lines.enumerated() where line.contains(" from ") {
                let hop = String(line.split(separator: " ").first ?? "")
                held.append(hop)
                if i + 1 < lines.count, lines[i + 1].contains("multipath") { multipath.append(hop) }
            }
            return (held, multipath)
        case .gobgp:
            // "*> 192.0.2.100/32  198.18.0.1  64512  00:00:01  [{Origin: i}]", one line per path.
            let hops = try cli(["global", "rib", "-a", "ipv4", prefix]).split(separator: "\n").compactMap {
                line -> String? in
                let words = line.split(separator: " ").filter { $0 != "*" && $0 != "*>" }
                guard words.first == Substring(prefix), words.count > 1 else { return nil }
                return String(words[1])
            }
            return (hops, hops)
        }
    }

    /// Whether the router's BFD session with its neighbour is Up.
    public func bfdIsUp() throws -> Bool {
        switch kind {
        case .bird: return try cli(["show", "bfd", "sessions"]).split(separator: "\n").contains { $0.contains(" Up ") }
        case .frr: return try cli(["-c", "show bfd peers"]).contains("Status: up")
        case .gobgp: return false
        }
    }

    /// What the router says about its BGP neighbour (state, last error or reset reason).
    public func neighborDetails() throws -> String {
        switch kind {
        case .bird: return try cli(["show", "protocols", "all", "speaker"])
        case .frr: return try cli(["-c", "show bgp neighbors"])
        case .gobgp: return try cli(["neighbor"])
        }
    }

    public func stop() { for process in processes.reversed() { process.kill() } }
}
