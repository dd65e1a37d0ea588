import Glibc
import Processes
import PylonTestKit
import Testing

/// `ChildProcess.run`: Pylon's one way to run a program to its end.
@Suite struct ChildProcessTests {
    static let script = "echo out; echo err >&2; exit 3"

    @Test func statusOutputAndErrorAreReportedApart() throws {
        let result = try ChildProcess.run("/bin/sh", ["-c", Self.script])
        #expect(result.termination == .exited(3))
        #expect(result.status == 3 && !result.succeeded)
        #expect(result.standardOutput == "out\n")
        #expect(result.standardError == "err\n")
    }

    @Test func errorCanBeMergedOrDiscarded() throws {
        let merged = try ChildProcess.run("/bin/sh", ["-c", Self.script], standardError: .merged)
        #expect(merged.standardOutput == "out\nerr\n" && merged.standardError.isEmpty)
        let discarded = try ChildProcess.run("/bin/sh", ["-c", Self.script], standardError: .discarded)
        #expect(discarded.standardOutput == "out\n" && discarded.standardError.isEmpty)
    }

    @Test func aSignalIsReportedAsASignal() throws {
        let result = try ChildProcess.run("/bin/sh", ["-c", "kill -TERM $$"])
        #expect(result.termination == .signalled(SIGTERM))
        #expect(result.status == 128 + SIGTERM)
    }

    @Test func largeOutputOnBothStreamsIsReadToTheEnd() throws {
        // 1.2 MB on standard error while standard output is also written: neither pipe may stall the other.
        let result = try ChildProcess.run("/bin/sh", ["-c", "seq 200000 >&2; seq 100000"])
        #expect(result.succeeded)
        #expect(result.standardOutput.split(separator: "\n").count == 100_000)
        #expect(result.standardError.split(separator: "\n").count == 200_000)
    }

    @Test func inputLargerThanAPipeIsFedWhileOutputIsRead() throws {
        let input = String(repeating: "0123456789abcdef\n", count: 65_536)  // 1.1 MB
        let result = try ChildProcess.run("cat", [], input: input)
        #expect(result.standardOutput == input)
    }

    @Test func inputToAProgramThatNeverReadsItIsNotAnError() throws {
        // The child exits without reading: the write fails with EPIPE, and SIGPIPE must not end this process.
        let result = try ChildProcess.run("true", [], input: String(repeating: "x", count: 1 << 20))
        #expect(result.succeeded)
    }

    @Test func environmentIsAddedToThisProcesssOwn() throws {
        let result = try ChildProcess.run(
            "/bin/sh", ["-c", "echo $PYLON_TEST_VALUE; test -n \"$PATH\" && echo path"],
            environment: ["PYLON_TEST_VALUE": "a b"])
        #expect(result.standardOutput == "a b\npath\n")
    }

    @Test func onlyTheStandardDescriptorsAreInherited() throws {
        // A descriptor this process holds without close-on-exec must not reach the child.
        let leaked = open("/dev/null", O_RDONLY)
        defer { close(leaked) }
        #expect(leaked > 2)
        let result = try ChildProcess.run("/bin/sh", ["-c", "ls /proc/$$/fd"])
        let descriptors = Set(result.standardOutput.split(separator: "\n").compactMap { Int32($0) })
        #expect(!descriptors.contains(leaked), "\(descriptors)")
        #expect(descriptors.isSuperset(of: [0, 1, 2]))
    }

    @Test func aMissingProgramIsAFailureNamingIt() {
        #expect(throws: ChildProcess.Failure.self) { try ChildProcess.run("/nonexistent/program", []) }
        do {
            _ = try ChildProcess.run("pylon-no-such-program", [])
            Issue.record("a program not on PATH was started")
        } catch {
            #expect(error.description.contains("pylon-no-such-program"), "\(error)")
        }
    }

    @Test func asyncRunDoesNotBlockThePool() async throws {
        // More concurrent children than the cooperative pool has threads: each waits on a thread of its own.
        let count = 16
        try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<count {
                group.addTask { try await ChildProcess.run("/bin/sh", ["-c", "sleep 0.2; echo \(i)"]).standardOutput }
            }
            var seen: Set<String> = []
            for try await output in group { seen.insert(output) }
            #expect(seen == Set((0..<count).map { "\($0)\n" }))
        }
    }
}

/// `BackgroundProcess` and daemons: programs that run while Pylon (or a test) goes on.
@Suite struct BackgroundProcessTests {
    @Test func outputIsCollectedWhileItRunsAndStopEndsIt() async throws {
        let process = try BackgroundProcess("/bin/sh", ["-c", "echo ready; echo oops >&2; exec sleep 600"])
        try await eventually("both lines") { process.text.contains("ready") && process.text.contains("oops") }
        #expect(process.isRunning && process.termination == nil)
        await process.stop()
        #expect(!process.isRunning)
        #expect(process.termination == .signalled(SIGTERM))
    }

    @Test func aProgramIgnoringSIGTERMIsKilledAfterTheGrace() async throws {
        let process = try BackgroundProcess("/bin/sh", ["-c", "trap '' TERM; echo armed; while :; do sleep 1; done"])
        try await eventually("the trap is set") { process.text.contains("armed") }
        process.terminate(grace: .milliseconds(200))
        #expect(process.termination == .signalled(SIGKILL))
    }

    @Test func anExitIsSeen() async throws {
        let process = try BackgroundProcess("/bin/sh", ["-c", "exit 7"])
        try await eventually("exit") { !process.isRunning }
        #expect(process.termination == .exited(7))
    }

    @Test func aDaemonLogsToAPrivateFileAndIsStoppedByPid() async throws {
        let log = "/tmp/pylon-processes-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
        defer { unlink(log) }
        let marker = "pylon-daemon-marker-\(getpid())"
        // The shell stays (its command line holds the marker) and takes its sleep with it when stopped.
        let script = "trap 'kill $!; exit 0' TERM; echo started; sleep 600 & wait"
        let pid = try ChildProcess.spawnDaemon(["/bin/sh", "-c", script, marker], log: log)
        #expect(ChildProcess.isRunning(pid, marker: marker), "right after it was started")
        #expect(!ChildProcess.isRunning(pid, marker: "some-other-program"), "a pid running something else is not ours")
        var info = stat()
        try await eventually("the log") { stat(log, &info) == 0 && info.st_size > 0 }
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(getsid(pid) == pid, "a session of its own")
        ChildProcess.stop(pid, marker: marker, grace: .seconds(5))
        #expect(!ChildProcess.isRunning(pid, marker: marker))
    }
}
