import FuzzDriver
import KubeClient

/// A kubeconfig file as kubectl would read it: loading gives a configuration or a `ConfigurationError`, never a
/// trap, and loading is deterministic (the same file gives the same answer). Files the kubeconfig refers to do not
/// exist.
func fuzzKubeconfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    let loader = KubeConfigLoader(environment: [:], home: "/nonexistent") { path in
        guard path == "/fuzz/config" else { throw ConfigurationError("no file \(path)") }
        return input
    }
    let first = String(describing: Result { try loader.load(kubeconfig: "/fuzz/config") })
    let second = String(describing: Result { try loader.load(kubeconfig: "/fuzz/config") })
    guard first == second else { fatalError("one kubeconfig loaded two ways:\n  \(first)\n  \(second)") }
    return 0
}

runFuzzer(fuzzKubeconfig)
