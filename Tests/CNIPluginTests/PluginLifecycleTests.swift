import Foundation
import KubeAPI
import PylonTestSupport
import Testing

/// Pylon's plugin through a pod's life and a node's: CHECK and DEL, plugins switched mid-life, ranges running out,
/// many ADDs at once, and a plugin killed half-way.
@Suite(.serialized, .enabled(if: getuid() == 0, "needs root for network namespaces"))
struct PluginLifecycleTests {
    static func config(_ store: String, subnet: String = "10.42.0.0/24", extra: String = "", version: String = "1.0.0")
        -> String
    {
        """
        {"cniVersion":"\(version)","name":"cbr0","type":"TYPE","bridge":"cni0","isDefaultGateway":true,
         "hairpinMode":true,"mtu":1450\(extra),
         "ipam":{"type":"host-local","ranges":[[{"subnet":"\(subnet)"}]],"dataDir":"\(store)"}}
        """
    }

    static func withPrevious(_ config: String, _ result: JSON?) throws -> String {
        var document = try JSONParser.parse(config)
        document["prevResult"] = result
        return document.text()
    }

    static func address(_ answer: CNIInvoker.Answer) -> String {
        answer.json?["ips"]?.arrayValue?.first?["address"]?.stringValue ?? "none: \(answer.output)"
    }

    /// The store's address files (name → content), without last_reserved_ip and the lock.
    static func held(_ store: String) throws -> [String: String] {
        let directory = store + "/cbr0"
        var files: [String: String] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        where name != "lock" && !name.hasPrefix("last_reserved_ip") {
            files[name] = (try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)) ?? "?"
        }
        return files
    }

    @Test func checkFindsWhatAddMadeAndDeleteIsIdempotent() async throws {
        try await ScratchNamespaces.run(family: "pylc", count: 2) { scratch in
            let work = try TemporaryDirectory()
            let pylon = CNIInvoker(plugin: PylonBinary.path, node: scratch.names[0])
            let config = Self.config(work.path).replacingOccurrences(of: "TYPE", with: "pylon")
            let netns = "/var/run/netns/\(scratch.names[1])"
            let added = try await pylon.run("ADD", container: "pod-1", netns: netns, config: config)
            #expect(added.status == 0, "\(added.output)")
            let withResult = try Self.withPrevious(config, added.json)
            let checked = try await pylon.run("CHECK", container: "pod-1", netns: netns, config: withResult)
            #expect(checked.status == 0 && checked.output.isEmpty, "\(checked.output)")

            _ = try scratch.ip(1, "route", "del", "default")
            let broken = try await pylon.run("CHECK", container: "pod-1", netns: netns, config: withResult)
            #expect(broken.code == 102 && broken.message == "the pod has no route to 0.0.0.0/0 via 10.42.0.1")

            for _ in 0..<2 {
                let deleted = try await pylon.run("DEL", container: "pod-1", netns: netns, config: config)
                #expect(deleted.status == 0 && deleted.output.isEmpty, "\(deleted.output)")
            }
            #expect(try Self.held(work.path).isEmpty)
            #expect(try !scratch.ip(1, "link").contains("eth0"))
            #expect(try !scratch.ip(0, "link").contains("veth"), "the host end went with the pod's")
            let unknown = try await pylon.run("DEL", container: "never-added", netns: netns, config: config)
            #expect(unknown.status == 0)
            let gone = try await pylon.run("DEL", container: "pod-1", netns: "/var/run/netns/pylc-gone", config: config)
            #expect(gone.status == 0, "a namespace already removed is fine: \(gone.output)")
        }
    }

    @Test func switchingPluginsMidLifeKeepsEveryAllocation() async throws {
        try await ScratchNamespaces.run(family: "pylc", count: 5) { scratch in
            let work = try TemporaryDirectory()
            let node = scratch.names[0]
            let plugins = [
                "pylon": (CNIInvoker(plugin: PylonBinary.path, node: node), "pylon"),
                "reference": (CNIInvoker(plugin: ReferenceConformanceTests.bridgePlugin, node: node), "bridge"),
            ]
            func run(_ which: String, _ command: String, _ pod: Int, previous: JSON? = nil) async throws
                -> CNIInvoker.Answer
            {
                let (invoker, type) = plugins[which]!
                var config = Self.config(work.path).replacingOccurrences(of: "TYPE", with: type)
                if let previous { config = try Self.withPrevious(config, previous) }
                return try await invoker.run(
                    command, container: "pod-\(pod)", netns: "/var/run/netns/\(scratch.names[pod])", config: config)
            }
            let first = try await run("reference", "ADD", 1)
            let second = try await run("pylon", "ADD", 2)
            let third = try await run("reference", "ADD", 3)
            #expect([first, second, third].map(Self.address) == ["10.42.0.2/24", "10.42.0.3/24", "10.42.0.4/24"])
            #expect(try await run("pylon", "DEL", 1).status == 0)
            let fourth = try await run("reference", "ADD", 4)
            #expect(Self.address(fourth) == "10.42.0.5/24", "round robin continues from the last address handed out")
            #expect(
                try Self.held(work.path)
                    == ["10.42.0.3": "pod-2\r\neth0", "10.42.0.4": "pod-3\r\neth0", "10.42.0.5": "pod-4\r\neth0"])
            #expect(
                try await run("pylon", "CHECK", 3, previous: third.json).status == 0, "Pylon checks the reference's pod"
            )
            let crossCheck = try await run("reference", "CHECK", 2, previous: second.json)
            #expect(crossCheck.status == 0, "the reference checks Pylon's pod: \(crossCheck.output)")
            #expect(try await run("reference", "DEL", 2).status == 0)
            #expect(try await run("pylon", "DEL", 3).status == 0)
            #expect(try await run("pylon", "DEL", 4).status == 0)
            #expect(try Self.held(work.path).isEmpty)
            #expect(try !scratch.ip(0, "link").contains("veth"))
        }
    }

    @Test func anExhaustedRangeFailsClearlyAndLeavesNothing() async throws {
        try await ScratchNamespaces.run(family: "pylc", count: 4) { scratch in
            let work = try TemporaryDirectory()
            let pylon = CNIInvoker(plugin: PylonBinary.path, node: scratch.names[0])
            let config = Self.config(work.path, subnet: "10.42.0.0/30").replacingOccurrences(of: "TYPE", with: "pylon")
            let answers = try await (1...3).asyncMap { pod in
                try await pylon.run(
                    "ADD", container: "pod-\(pod)", netns: "/var/run/netns/\(scratch.names[pod])", config: config)
            }
            #expect(answers[0].status == 0 && Self.address(answers[0]) == "10.42.0.2/30")
            #expect(answers[1].code == 101)
            #expect(
                answers[1].message
                    == "failed to allocate for range 0: no IP addresses available in range set: 10.42.0.1-10.42.0.2")
            #expect(try !scratch.ip(2, "link").contains("eth0"), "no interface is left in the pod")
            #expect(try Self.held(work.path) == ["10.42.0.2": "pod-1\r\neth0"])
        }
    }

    @Test func fiftyConcurrentAddsNeverShareAnAddress() async throws {
        try await ScratchNamespaces.run(family: "pylc", count: 51) { scratch in
            let work = try TemporaryDirectory()
            let pylon = CNIInvoker(plugin: PylonBinary.path, node: scratch.names[0])
            let config = Self.config(work.path).replacingOccurrences(of: "TYPE", with: "pylon")
            let answers = try await withThrowingTaskGroup(of: CNIInvoker.Answer.self) { group in
                for pod in 1...50 {
                    group.addTask {
                        try await pylon.run(
                            "ADD", container: "pod-\(pod)", netns: "/var/run/netns/\(scratch.names[pod])",
                            config: config)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.allSatisfy { $0.status == 0 }, "\(answers.filter { $0.status != 0 }.map(\.output))")
            #expect(Set(answers.map(Self.address)).count == 50)
            #expect(try Self.held(work.path).count == 50)
            let links = try scratch.ip(0, "-o", "link", "show", "master", "cni0")
            #expect(links.split(separator: "\n").count == 50)
        }
    }

    /// strace's fault injection kills the plugin (SIGKILL) at an exact system call: while it reserves the address,
    /// and after it has made the veth pair.
    @Test(arguments: [("link", 1), ("sendto", 9)])
    func aPluginKilledMidAddLeavesAConsistentStore(call: String, occurrence: Int) async throws {
        try await ScratchNamespaces.run(family: "pylc", count: 2) { scratch in
            let work = try TemporaryDirectory()
            let pylon = CNIInvoker(plugin: PylonBinary.path, node: scratch.names[0])
            let config = Self.config(work.path, version: "1.1.0").replacingOccurrences(of: "TYPE", with: "pylon")
            let netns = "/var/run/netns/\(scratch.names[1])"
            let killer = [
                "/usr/bin/strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=\(call)",
                "-e", "inject=\(call):signal=SIGKILL:when=\(occurrence)",
            ]
            let killed = try await pylon.run("ADD", container: "pod-1", netns: netns, config: config, wrapper: killer)
            #expect(killed.status != 0 && killed.output.isEmpty, "the plugin died: \(killed.output)")
            for (ip, owner) in try Self.held(work.path) {
                #expect(owner == "pod-1\r\neth0", "\(ip) has an owner")
            }
            // GC with no attachment left frees what the killed ADD held and the debris it left.
            let gc = try Self.withPrevious(config, nil).replacingOccurrences(
                of: "\"name\":\"cbr0\"", with: "\"name\":\"cbr0\",\"cni.dev/valid-attachments\":[]")
            let collected = try await pylon.run("GC", config: gc)
            #expect(collected.status == 0, "\(collected.output)")
            #expect(try Self.held(work.path).isEmpty)
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: work.path + "/cbr0")
            #expect(leftovers.allSatisfy { $0 == "lock" || $0.hasPrefix("last_reserved_ip") }, "\(leftovers)")
            // DEL removes what the kernel holds, and the pod can be added again.
            #expect(try await pylon.run("DEL", container: "pod-1", netns: netns, config: config).status == 0)
            let again = try await pylon.run("ADD", container: "pod-1", netns: netns, config: config)
            #expect(again.status == 0, "\(again.output)")
        }
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
