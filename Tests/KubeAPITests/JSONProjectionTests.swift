import KubeAPI
import Testing

/// Projections keep exactly what a shape names, through objects and arrays.
@Suite struct JSONProjectionTests {
    @Test func keepsOnlyTheNamedParts() throws {
        let service = try JSONParser.parse(
            """
            {"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"default","uid":"u1",
             "resourceVersion":"7","managedFields":[{"manager":"kubectl"}],"labels":{"app":"web"}},
             "spec":{"type":"LoadBalancer","clusterIP":"10.43.0.9","ports":[{"port":80,"nodePort":30080}]},
             "status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.100"}]},"conditions":[]}}
            """)
        let kept = service.projected(onto: JSON.loadBalancerServiceShape)
        #expect(kept["metadata"]?["managedFields"] == nil)
        #expect(kept["metadata"]?["labels"]?["app"] == "web")
        #expect(kept["spec"]?["clusterIP"] == nil)
        #expect(kept["spec"]?["ports"] == [["port": 80, "nodePort": 30080]], "kept whole where the shape says true")
        #expect(kept["status"] == ["loadBalancer": ["ingress": [["ip": "192.0.2.100"]]]])
    }

    @Test func projectsEveryElementOfAnArray() throws {
        let slice = try JSONParser.parse(
            """
            {"metadata":{"name":"web-1","labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4",
             "endpoints":[{"addresses":["10.42.0.5"],"nodeName":"node-1","conditions":{"ready":true},"zone":"a"},
                          {"addresses":["10.42.1.5"],"nodeName":"node-2"}]}
            """)
        let kept = slice.projected(onto: JSON.endpointSliceNodesShape)
        #expect(kept["addressType"] == nil)
        #expect(kept["endpoints"] == [["nodeName": "node-1", "conditions": ["ready": true]], ["nodeName": "node-2"]])
        #expect(JSON.string("x").projected(onto: ["a": true]) == "x", "a scalar is kept as it is")
    }
}
