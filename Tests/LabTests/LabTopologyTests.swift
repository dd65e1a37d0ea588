import Lab
import NetCore
import Testing

/// The lab's plan: names, documentation addresses, no default route.
@Suite struct LabTopologyTests {
    @Test func topologyPlansNamesAndDocumentationAddresses() {
        let t = LabTopology(prefix: "pylt-ab12", hosts: ["node-1", "node-2", "client"])
        #expect(t.namespaces == ["pylt-ab12-lan", "pylt-ab12-node-1", "pylt-ab12-node-2", "pylt-ab12-client"])
        #expect(t.addresses(of: "client").v4 == IPAddress("192.0.2.12")!)
        #expect(t.addresses(of: "node-1").v6 == IPAddress("2001:db8::a")!)
        #expect(!t.setUpCommands().contains { $0.contains("default") }, "no default routes")
        #expect(t.tearDownCommands().count == 4)
    }
}
