import KubeAPI
import LoadBalancerConfig
import Speaker
import Testing

/// What `BGPSpeaker` derives from a BGPPeer before it opens a session.
@Suite struct BGPSpeakerTests {
    static func spec(myASN: Int64, multihop: Bool) throws -> BGPPeerSpec {
        var spec: JSON = ["myASN": .int(myASN), "peerASN": 64_500, "peerAddress": "192.0.2.1"]
        if multihop { spec["ebgpMultiHop"] = true }
        let configuration = try BGPConfiguration.parse(
            peers: [["metadata": ["name": "a"], "spec": spec]], advertisements: [], communities: [], bfdProfiles: [],
            pools: []
        ).get()
        return try #require(configuration.peers.first)
    }

    /// The TTL of a session follows FRR: 1 towards an external peer, 255 with ebgpMultiHop, the default inside.
    @Test func sessionTTLFollowsFRR() throws {
        #expect(BGPSpeaker.ttl(for: try Self.spec(myASN: 64_512, multihop: false)) == 1)
        #expect(BGPSpeaker.ttl(for: try Self.spec(myASN: 64_512, multihop: true)) == 255)
        #expect(BGPSpeaker.ttl(for: try Self.spec(myASN: 64_500, multihop: false)) == nil)
    }
}
