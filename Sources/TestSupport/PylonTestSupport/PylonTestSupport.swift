@_exported import Processes
// The heavy harness (API servers, LANs, routers, processes) includes the light kit and the process runner, so
// integration tests need one import.
@_exported import PylonTestKit
