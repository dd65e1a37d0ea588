import Foundation
import LabRuntime
import PylonTestSupport
import Testing

/// The CRDs `pylon lab up` carries are deploy/crds' own.
@Suite struct EmbeddedCRDsTests {
    @Test func theBinaryCarriesDeployCRDsAsTheyAre() throws {
        let directory = PylonBinary.packageRoot + "/deploy/crds"
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasPrefix("metallb.io_") && $0.hasSuffix(".yaml") }.sorted()
        #expect(EmbeddedCRDs.files.map(\.name) == onDisk, "run scripts/embed-crds")
        for (name, yaml) in EmbeddedCRDs.files {
            let text = try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
            #expect(yaml + "\n" == text, "\(name) differs from deploy/crds: run scripts/embed-crds")
        }
        #expect(EmbeddedCRDs.files.count == 9, "every metallb.io kind Pylon serves")
    }
}
