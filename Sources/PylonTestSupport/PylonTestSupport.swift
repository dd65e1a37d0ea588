// The heavy harness (API servers, LANs, routers, processes) includes the light kit, so integration tests need one
// import.
@_exported import PylonTestKit
